# diaoyan — every target maps to one CLI command. `make` alone lists them.
.DEFAULT_GOAL := help
SHELL := /bin/bash

# The project needs Python 3.11 (pyproject.toml); prefer it when several are installed.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
DIAOYAN := $(BIN)/python -m pipeline
STAMP := $(VENV)/.installed

IN ?= corpus/transcripts
OUT ?= out
MODEL ?= models/current
N ?= 50

MODEL_INPUTS := $(wildcard corpus/labelled/*.csv corpus/audit/recoding.csv) configs/taxonomy.yaml configs/default.yaml \
	configs/userdict.txt configs/stopwords.txt configs/sentiment.yaml \
	pipeline/train.py pipeline/models.py pipeline/features.py pipeline/classify.py \
	pipeline/sentiment.py pipeline/segment.py pipeline/corpus.py

.PHONY: help install classify train evaluate predict import-reviews suggest test bench clean

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-15s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

install: $(STAMP) ## Create .venv/ and install the project with its dependencies

$(MODEL)/meta.json: $(STAMP) $(MODEL_INPUTS)
	$(DIAOYAN) train --model-dir $(MODEL)

classify: $(STAMP) $(MODEL)/meta.json ## Classify a folder of transcripts: make classify [IN=folder] [OUT=folder]
	$(DIAOYAN) classify $(IN) --out $(OUT) --model-dir $(MODEL)

train: $(STAMP) ## Train the model (corpus train split + reviewed corrections) into models/current
	$(DIAOYAN) train --model-dir $(MODEL)

evaluate: $(STAMP) $(MODEL)/meta.json ## Held-out and cross-validated metrics beside baselines → models/current/metrics.json
	$(DIAOYAN) evaluate --model-dir $(MODEL)

predict: $(STAMP) $(MODEL)/meta.json ## Classify a CSV with a text column: make predict IN=file.csv OUT=file.csv
	$(DIAOYAN) predict $(IN) --output $(OUT) --model-dir $(MODEL)

import-reviews: $(STAMP) ## Merge analyst corrections: make import-reviews FILE=out/quotes.xlsx
	$(DIAOYAN) import-reviews $(FILE)

suggest: $(STAMP) $(MODEL)/meta.json ## Comments worth labelling next: make suggest [IN=out/comments.csv] [N=50]
	$(DIAOYAN) suggest --input $(if $(filter corpus/transcripts,$(IN)),$(OUT)/comments.csv,$(IN)) -n $(N) --model-dir $(MODEL)

test: $(STAMP) ## Run the test suite
	$(BIN)/python -m pytest

bench: $(STAMP) $(MODEL)/meta.json ## Benchmark the stages on ≥100,000 generated comments
	$(DIAOYAN) bench --model-dir $(MODEL)

clean: ## Remove generated outputs (keeps .venv and models)
	rm -rf $(OUT) .pytest_cache .hypothesis
