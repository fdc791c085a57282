"""The record schemas shared by every stage, documented in one place.

A *turn* is what one speaker said in one go; a *comment* is one sentence or a short run of
sentences within a turn. Stages add columns; none removes one.

Comment columns, in output order:

==================  =========  ===========================================================
column              stage      meaning
==================  =========  ===========================================================
comment_id          segment    ``<doc_id>-<turn:04d>-<sentence_index:02d>``, stable per run
doc_id              ingest     ``D01``… in sorted order of the input files
source              ingest     path relative to the input folder
speaker             ingest     speaker label as written (名字, 发言人2, 问/答, 答卷17…); ``""`` if none
speaker_title       ingest     role in parentheses after the label (``某局科长``), if any
role                ingest     ``respondent`` | ``interviewer`` | ``header`` (title/date lines
                               before the first turn of a labelled transcript, table captions,
                               notes on a line of their own such as （记录整理：…）)
region, org_type,   ingest     metadata from the manifest (or a survey row); defaults in config
form, date
question            ingest     survey question as its whole column header (numbering kept), or a
                               docx table's column header, if any
turn                ingest     turn index within the document, from 0
sentence_index      segment    comment index within the turn, from 0
start, end          segment    character offsets into the document's normalised text: the
                               comment is ``doc_text[start:end]`` before width normalisation
text                segment    the comment, width- and whitespace-normalised
tokens              segment    jieba tokens joined by single spaces
topic               classify   primary topic id, or the taxonomy's ``other``
topic_confidence    classify   probability of that topic
topics              classify   all topics above threshold, ``;``-joined
kind                classify   problem | achievement | suggestion | other
kind_confidence     classify   probability of that kind
evidence            classify   seed terms matched and top features, human readable
sentiment           sentiment  calibrated P(judgement is positive), in [0, 1]
sentiment_label     sentiment  pos | neu | neg by the thresholds in config
classified          classify   True for respondent comments the model labelled
==================  =========  ===========================================================

Survey exports also carry their own metadata columns (cleaned question headers) and
``respondent_id``.
"""

from __future__ import annotations

ROLES = ("respondent", "interviewer", "header")

TURN_COLUMNS = [
    "doc_id", "source", "speaker", "speaker_title", "role", "respondent_id",
    "region", "org_type", "form", "date", "question", "turn", "start", "end", "text",
]

COMMENT_COLUMNS = [
    "comment_id", "doc_id", "source", "speaker", "speaker_title", "role", "respondent_id",
    "region", "org_type", "form", "date", "question", "turn", "sentence_index",
    "start", "end", "text", "tokens",
]

CLASSIFY_COLUMNS = ["topic", "topic_confidence", "topics", "kind", "kind_confidence",
                    "evidence", "classified"]
SENTIMENT_COLUMNS = ["sentiment", "sentiment_label"]
PREDICTION_COLUMNS = ["topic", "topic_confidence", "topics", "kind", "kind_confidence",
                      "sentiment", "sentiment_label", "evidence"]

METADATA_COLUMNS = ["region", "org_type", "form", "date"]
