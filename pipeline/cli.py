"""The `diaoyan` command (also `python -m pipeline`): a thin layer over the library, one subcommand per Make target."""

from __future__ import annotations

import json
import logging
import sys
from contextlib import contextmanager
from pathlib import Path

import click

from pipeline.config import load_config, resolve
from pipeline.errors import DiaoyanError

log = logging.getLogger("pipeline")


class Context:
    def __init__(self, config: str | None, overrides: tuple[str, ...]):
        self.cfg = load_config(Path(config) if config else None, list(overrides))

    def taxonomy(self, path: str | None = None):
        from pipeline.taxonomy import load_taxonomy
        return load_taxonomy(Path(path) if path else resolve(self.cfg["paths"]["taxonomy"]))

    def model_dir(self, path: str | None) -> Path:
        return Path(path) if path else resolve(self.cfg["paths"]["model_dir"])

    def model(self, model_dir: str | None, taxonomy):
        from pipeline.classify import load_model
        return load_model(self.model_dir(model_dir), taxonomy, self.cfg)


@contextmanager
def stage_progress(total: int, enabled: bool):
    """A progress bar over pipeline stages on a terminal; silent otherwise."""
    if not enabled:
        yield lambda msg: log.info(msg)
        return
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
    with Progress(TextColumn("{task.description:<40}"), BarColumn(), TimeElapsedColumn(),
                  transient=True) as bar:
        task = bar.add_task("starting", total=total)

        def step(msg: str):
            bar.update(task, description=msg, advance=1)
        yield step


def fail(err: Exception):
    raise click.ClickException(str(err))


def echo_json(obj) -> None:
    click.echo(json.dumps(obj, ensure_ascii=False, indent=2))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", type=click.Path(dir_okay=False), help="Config YAML (default configs/default.yaml).")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override a config value, e.g. --set classifier.C=0.5 (repeatable).")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.option("-q", "--quiet", is_flag=True, help="Only errors.")
@click.version_option(package_name="diaoyan")
@click.pass_context
def main(ctx, config, overrides, verbose, quiet):
    """diaoyan: classified, quotable evidence from Chinese research interviews (调研访谈).

    \b
    Example:
      diaoyan classify corpus/transcripts --out out
    """
    level = logging.ERROR if quiet else (logging.DEBUG if verbose > 1 else
                                         logging.INFO if verbose else logging.WARNING)
    logging.basicConfig(level=level, format="%(levelname)s %(message)s", stream=sys.stderr)
    logging.getLogger("jieba").setLevel(max(level, logging.WARNING))
    try:
        ctx.obj = Context(config, overrides)
    except DiaoyanError as err:
        fail(err)


@main.command("classify")
@click.argument("input_dir", required=False, type=click.Path(file_okay=False))
@click.option("--out", "out_dir", type=click.Path(file_okay=False), help="Output folder (default out/).")
@click.option("--model-dir", type=click.Path(file_okay=False), help="Model folder (default models/current).")
@click.option("--taxonomy", type=click.Path(dir_okay=False), help="Taxonomy YAML (default configs/taxonomy.yaml).")
@click.option("--encoding", help="Force the text encoding of .txt/.csv inputs (utf-8, gb18030, utf-16).")
@click.option("--strict", is_flag=True, help="Stop at the first unreadable file instead of skipping it.")
@click.option("--keep-names", is_flag=True, help="Turn de-identification off (internal use; outputs say so).")
@click.pass_obj
def classify_cmd(obj: Context, input_dir, out_dir, model_dir, taxonomy, encoding, strict, keep_names):
    """Run ingest → segment → classify → sentiment → quotes → report over a folder.

    Writes comments.csv, quotes.xlsx, report.docx, report.html and run.json.

    \b
    Example:
      diaoyan classify corpus/transcripts --out out
    """
    from pipeline import runner
    try:
        tax = obj.taxonomy(taxonomy)
        model = obj.model(model_dir, tax)
        folder = Path(input_dir) if input_dir else resolve(obj.cfg["paths"]["transcripts"])
        out = Path(out_dir) if out_dir else resolve(obj.cfg["paths"]["out"])
        with stage_progress(7, sys.stderr.isatty()) as step:
            record = runner.run(folder, out, tax, model, obj.cfg, encoding=encoding, strict=strict,
                                keep_names=keep_names, progress=step)
    except DiaoyanError as err:
        fail(err)
    c = record["counts"]
    click.echo(f"{c['processed']} files processed, {c['skipped']} skipped; {c['comments']} comments "
               f"({c['respondent_comments']} from respondents), {c['quotes']} quotes → {out}")
    for f in record["files"]:
        if f["status"] == "skipped":
            click.echo(f"  skipped {f['file']}: {f['reason']}", err=True)


@main.command("train")
@click.option("--taxonomy", type=click.Path(dir_okay=False), help="Taxonomy YAML (default configs/taxonomy.yaml).")
@click.option("--labelled", type=click.Path(), help="Labelled CSV file or folder (default corpus/labelled/).")
@click.option("--model-dir", type=click.Path(file_okay=False), help="Where to write the model (default models/current).")
@click.pass_obj
def train_cmd(obj: Context, taxonomy, labelled, model_dir):
    """Train the topic, kind and sentiment heads and write a self-describing model folder.

    Uses the train split of the labelled CSVs plus reviewed corrections (corpus/labelled/reviewed.csv).
    A CSV needs text,topic; kind and sentiment columns train those heads when present.

    \b
    Example:
      diaoyan train --labelled corpus/labelled --model-dir models/current
    """
    from pipeline import train
    try:
        tax_path = Path(taxonomy) if taxonomy else resolve(obj.cfg["paths"]["taxonomy"])
        tax = obj.taxonomy(str(tax_path))
        source = Path(labelled) if labelled else resolve(obj.cfg["paths"]["labelled"])
        meta = train.run(tax, tax_path, source, obj.model_dir(model_dir), obj.cfg,
                         progress=lambda m: click.echo(m, err=True))
    except DiaoyanError as err:
        fail(err)
    for head, rec in meta["heads"].items():
        comparison = rec.get("cv_macro_f1_by_family") or {}
        scores = ", ".join(f"{k} {v:.3f}" for k, v in comparison.items())
        weighting = f", term weighting {rec['term_weighting']:g}" if rec.get("term_weighting") else ""
        click.echo(f"{head}: {rec['family']}{weighting} on {rec['n_train']} comments"
                   + (f" (CV macro-F1: {scores})" if scores else ""))
    click.echo(f"held-out after:  {train.summary_line(meta['holdout'])}")
    if meta.get("previous_holdout"):
        click.echo(f"held-out before: {train.summary_line(meta['previous_holdout'])}")
    click.echo(f"model written to {obj.model_dir(model_dir)} in {meta['train_seconds']} s")


@main.command("evaluate")
@click.option("--taxonomy", type=click.Path(dir_okay=False))
@click.option("--labelled", type=click.Path(), help="Labelled CSV file or folder (default corpus/labelled/).")
@click.option("--model-dir", type=click.Path(file_okay=False))
@click.option("--social", type=click.Path(dir_okay=False), help="Extra sentiment check set (default corpus/eval/social_posts.csv).")
@click.pass_obj
def evaluate_cmd(obj: Context, taxonomy, labelled, model_dir, social):
    """Evaluate the model: held-out test split and 5-fold CV, beside baselines; writes metrics.json.

    \b
    Example:
      diaoyan evaluate --model-dir models/current
    """
    from pipeline import evaluate
    try:
        tax = obj.taxonomy(taxonomy)
        model = obj.model(model_dir, tax)
        source = Path(labelled) if labelled else resolve(obj.cfg["paths"]["labelled"])
        social_path = Path(social) if social else resolve("corpus/eval/social_posts.csv")
        checks = [resolve(p) for p in obj.cfg["paths"]["check_sets"] if resolve(p).exists()]
        metrics = evaluate.run(model, tax, source, obj.cfg, social_path if social_path.exists() else None,
                               progress=lambda m: click.echo(m, err=True), check_sets=checks,
                               double_coding=resolve(obj.cfg["paths"]["double_coding"]),
                               transcripts=resolve(obj.cfg["paths"]["transcripts"]))
        path = evaluate.write(metrics, obj.model_dir(model_dir))
    except DiaoyanError as err:
        fail(err)
    click.echo(evaluate.render(metrics))
    click.echo(f"metrics written to {path}")


@main.command("predict")
@click.argument("input_csv", type=click.Path(dir_okay=False))
@click.option("--output", "-o", required=True, type=click.Path(dir_okay=False), help="Output CSV.")
@click.option("--model-dir", type=click.Path(file_okay=False))
@click.option("--taxonomy", type=click.Path(dir_okay=False))
@click.pass_obj
def predict_cmd(obj: Context, input_csv, output, model_dir, taxonomy):
    """Classify a UTF-8 CSV with a `text` column; every input row and column is kept, in order.

    \b
    Example:
      diaoyan predict comments.csv --output predicted.csv
    """
    from pipeline import predict
    try:
        tax = obj.taxonomy(taxonomy)
        model = obj.model(model_dir, tax)
        n, notices = predict.run_file(Path(input_csv), Path(output), model, obj.cfg)
    except DiaoyanError as err:
        fail(err)
    for notice in notices:
        click.echo(notice, err=True)
    click.echo(f"{n} rows → {output}")


@main.command("import-reviews")
@click.argument("review_file", type=click.Path(dir_okay=False))
@click.option("--labelled", type=click.Path(), help="Folder holding reviewed.csv (default corpus/labelled/).")
@click.option("--taxonomy", type=click.Path(dir_okay=False))
@click.option("--reviewer", default="", help="Reviewer name when the sheet's reviewer column is empty.")
@click.pass_obj
def import_reviews_cmd(obj: Context, review_file, labelled, taxonomy, reviewer):
    """Merge analyst corrections from quotes.xlsx (reviewed_* columns) into corpus/labelled/reviewed.csv.

    Prints the model's agreement with the analyst; the next `make train` learns from them.

    \b
    Example:
      diaoyan import-reviews out/quotes.xlsx --reviewer 王分析师
    """
    from pipeline import reviews
    try:
        tax = obj.taxonomy(taxonomy)
        folder = Path(labelled) if labelled else resolve(obj.cfg["paths"]["labelled"])
        summary = reviews.import_reviews(Path(review_file), folder, tax, default_reviewer=reviewer)
    except DiaoyanError as err:
        fail(err)
    click.echo(reviews.render_summary(summary))


@main.command("suggest")
@click.option("--input", "input_csv", required=True, type=click.Path(dir_okay=False),
              help="comments.csv (from classify) or any CSV with a text column.")
@click.option("-n", "count", default=50, show_default=True, help="How many comments to suggest.")
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="Output .xlsx (default out/to_label.xlsx).")
@click.option("--model-dir", type=click.Path(file_okay=False))
@click.option("--taxonomy", type=click.Path(dir_okay=False))
@click.pass_obj
def suggest_cmd(obj: Context, input_csv, count, output, model_dir, taxonomy):
    """Pick the most informative unlabelled comments to label next (uncertain, diverse, no near-duplicates).

    Writes an .xlsx in the import-reviews format with empty label columns.

    \b
    Example:
      diaoyan suggest --input out/comments.csv -n 50
    """
    from pipeline import reviews
    try:
        tax = obj.taxonomy(taxonomy)
        model = obj.model(model_dir, tax)
        out = Path(output) if output else resolve(obj.cfg["paths"]["out"]) / "to_label.xlsx"
        n = reviews.suggest(Path(input_csv), out, model, tax, obj.cfg, count)
    except DiaoyanError as err:
        fail(err)
    click.echo(f"{n} comments to label → {out}")


@main.command("bench")
@click.option("--comments", "target", type=int, help="Comments to generate (default bench.target_comments).")
@click.option("--input", "input_dir", type=click.Path(file_okay=False), help="Corpus to repeat (default the sample corpus).")
@click.option("--model-dir", type=click.Path(file_okay=False))
@click.pass_obj
def bench_cmd(obj: Context, target, input_dir, model_dir):
    """Benchmark: stages over a large generated input; comments/s per stage and peak memory.

    \b
    Example:
      diaoyan bench --comments 100000
    """
    from pipeline import bench
    try:
        tax = obj.taxonomy()
        model = obj.model(model_dir, tax)
        folder = Path(input_dir) if input_dir else resolve(obj.cfg["paths"]["transcripts"])
        result = bench.run(folder, tax, model, obj.cfg, target or obj.cfg["bench"]["target_comments"],
                           progress=lambda m: click.echo(m, err=True))
    except DiaoyanError as err:
        fail(err)
    click.echo(bench.render(result))


if __name__ == "__main__":
    main()
