"""Input folder → documents (normalised text) and speaker turns with metadata; unreadable files are reported, not dropped silently."""

from __future__ import annotations

import io
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from charset_normalizer import from_bytes

from pipeline.config import checksum_bytes, load_yaml
from pipeline.errors import DiaoyanError
from pipeline.schema import TURN_COLUMNS

log = logging.getLogger(__name__)

TEXT_SUFFIXES = {".txt", ".md"}
TABLE_SUFFIXES = {".csv", ".xlsx"}
DOCX_SUFFIXES = {".docx"}
SUPPORTED = TEXT_SUFFIXES | TABLE_SUFFIXES | DOCX_SUFFIXES
MANIFEST_NAMES = ("manifest.csv", "manifest.yaml", "manifest.yml")

# Speech-to-text header: "发言人1 00:01:23", "说话人2 01:02", "Speaker 3 1:02:03"; some exports put the
# utterance on the same line after the time stamp.
STT_HEADER = re.compile(r"^\s*((?:发言人|说话人|讲话人|Speaker\s*)\d+)\s+(?:\d{1,2}:)?\d{1,2}:\d{2}(?:[ \t]+|$)",
                        re.IGNORECASE)
BRACKET_LABEL = re.compile(r"^\s*【([^】\n]{1,20})】\s*")
# "张三：" / "张三（某局科长）：" / "刘总:" — label up to 12 chars, optional role in parentheses.
# A half-width colon followed by "//" is a URL, not a label.
COLON_LABEL = re.compile(r"^\s*([^\s：:（）()，。,.；;！？!?“”\"]{1,12})\s*(?:[（(]([^）)\n]{1,40})[）)])?\s*"
                         r"(?:：|:(?!//))\s*")
HEADER_LABELS = {"时间", "地点", "日期", "主题", "记录", "记录人", "整理", "整理人", "参会人员", "出席",
                 "列席", "参加人员", "参会单位", "会议主题", "标题", "备注", "单位", "访谈时间",
                 "访谈地点", "访谈对象", "受访者", "受访对象", "访谈人员", "采访时间", "采访地点",
                 "主办", "文件", "附件", "说明", "注", "来源", "转写时间", "音频", "时长", "会议时间",
                 "会议地点", "参会人", "调研时间", "调研地点", "调研主题", "座谈时间", "座谈地点"}
NOT_A_NAME_CHARS = set("的是了说我你他她们这那在有和就都也要会能")
# Words that open a line with a colon but are not speakers ("比如：…", "一是：…").
NOT_LABELS = {"比如", "例如", "譬如", "比方说", "总之", "另外", "还有", "此外", "其次", "首先", "最后", "再次",
              "建议", "原因", "结果", "措施", "注意", "重点", "目标", "要求", "说明", "结论", "总结", "意见",
              "一是", "二是", "三是", "四是", "五是", "六是", "七是", "八是", "九是", "十是",
              "第一", "第二", "第三", "第四", "第五", "第六", "第七", "第八", "第九", "第十"}
# A turn is a question when it ends with a question mark, a question particle, or — speech-to-text
# output has little punctuation — its last clause carries a question word.
QUESTION_END = re.compile(r"[？?]\s*$|(吗|呢|么)[。．.]?\s*$")
QUESTION_WORDS = re.compile(r"什么|怎么|怎样|为什么|为啥|多少|多久|几个|哪|谁|有没有|是不是|能不能|会不会|"
                            r"要不要|好不好|对不对|行不行|可不可以|如何|是否|吗|呢|(\w)[不没]\1")


@dataclass
class Document:
    doc_id: str
    source: str
    text: str
    metadata: dict
    checksum: str
    encoding: str = ""


@dataclass
class IngestResult:
    documents: list[Document]
    turns: pd.DataFrame
    respondents: pd.DataFrame          # survey rows: one per respondent, with score columns
    files: list[dict] = field(default_factory=list)   # per-file status for run.json

    @property
    def skipped(self) -> list[dict]:
        return [f for f in self.files if f["status"] == "skipped"]


# ---------------------------------------------------------------- decoding

def decode_bytes(data: bytes, source: str, encoding: str | None = None) -> tuple[str, str]:
    """Bytes → (text, encoding name). An explicit encoding wins, then BOMs, strict UTF-8, detection."""
    if encoding:
        try:
            text = data.decode(encoding)
        except LookupError:
            raise DiaoyanError(f"unknown encoding {encoding!r}", path=source,
                               hint="use e.g. --encoding utf-8, gbk, gb18030 or utf-16") from None
        except UnicodeDecodeError as err:
            line = _line_at(data, err.start, encoding)
            guess = _guess_encoding(data)
            hint = (f"this file looks {guess.upper()}-encoded; retry with --encoding {guess}" if guess
                    else "retry with --encoding gbk (or utf-8, utf-16), or re-save the file as UTF-8")
            raise DiaoyanError(f"cannot decode as {encoding} (byte {err.start})", path=source,
                               line=line, hint=hint) from None
        return _check_text(text, source), encoding
    for bom, name in ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16")):
        if data.startswith(bom):
            try:
                text = data.decode(name)
            except UnicodeDecodeError as err:
                raise DiaoyanError(f"looks like a binary file: it starts with a {name} byte-order mark "
                                   f"but does not decode at byte {err.start}", path=source,
                                   line=_line_at(data, err.start, name),
                                   hint="re-save the file as UTF-8, or pass --encoding") from None
            if _plausible_share(text) < 0.9:
                raise DiaoyanError(f"looks like a binary file: it starts with a {name} byte-order mark "
                                   "but does not read as text", path=source,
                                   hint="re-save the file as UTF-8, or pass --encoding")
            return _check_text(text, source), name
    try:
        return _check_text(data.decode("utf-8"), source), "utf-8"
    except UnicodeDecodeError:
        pass
    if b"\x00" in data[:4096]:
        best = from_bytes(data[:200000]).best()
        if best is not None and best.encoding.startswith("utf_16"):
            try:
                text = data.decode(best.encoding)
                if _plausible_share(text) >= 0.9:
                    return _check_text(text, source), best.encoding
            except UnicodeDecodeError:
                pass
        raise DiaoyanError("looks like a binary file, not text", path=source,
                           hint="export it as .txt/.docx/.csv/.xlsx, or pass --encoding if it is UTF-16")
    # Chinese text that is not UTF-8 is almost always GB18030/GBK; charset detection on short
    # Chinese texts sometimes guesses Big5 or a Latin code page, so GB18030 is tried first.
    try:
        text = data.decode("gb18030")
        if _cjk_share(text) > 0.8:
            return _check_text(text, source), "gb18030"
    except UnicodeDecodeError:
        pass
    best = from_bytes(data[:200000]).best()
    if best is None:
        raise DiaoyanError("cannot detect the text encoding", path=source,
                           hint="retry with --encoding gbk (or utf-16)")
    try:
        return _check_text(data.decode(best.encoding), source), best.encoding
    except UnicodeDecodeError:
        raise DiaoyanError(f"looks {best.encoding}-encoded but does not decode cleanly", path=source,
                           hint="retry with --encoding gbk") from None


def _line_at(data: bytes, offset: int, encoding: str) -> int:
    """1-based line number of a byte offset, counting lines in the given encoding."""
    return data[:offset].decode(encoding, errors="replace").count("\n") + 1


def _guess_encoding(data: bytes) -> str:
    """A short name of the encoding the bytes most likely use ('' when unsure), for error hints."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in data[:4096]:
        return "utf-16"
    for name in ("utf-8", "gbk", "gb18030"):
        try:
            data.decode(name)
            return name
        except UnicodeDecodeError:
            continue
    return ""


def _plausible_share(text: str) -> float:
    """Share of characters a text file plausibly holds (ASCII, Chinese, CJK and general punctuation,
    kana, Hangul, Latin-1 letters); random bytes decoded as UTF-16 score low."""
    sample = text[:20000]
    if not sample:
        return 1.0
    ok = sum(1 for c in sample if " " <= c <= "~" or c in "\n\r\t" or "\u4e00" <= c <= "\u9fff"
             or "\u3000" <= c <= "\u30ff" or "\uff00" <= c <= "\uffef" or "\u2000" <= c <= "\u206f"
             or "\uac00" <= c <= "\ud7af" or "\u00c0" <= c <= "\u00ff")
    return ok / len(sample)


def _check_text(text: str, source: str) -> str:
    """Decoded text with NUL bytes or many control characters is a binary file read as text."""
    sample = text[:20000]
    control = sum(1 for c in sample if (c < " " and c not in "\n\r\t\f\v") or "\x7f" <= c < "\xa0"
                  or "\ue000" <= c <= "\uf8ff" or c == "\ufffd")
    if sample and ("\x00" in sample or control / len(sample) > 0.05):
        raise DiaoyanError("looks like a binary file, not text", path=source,
                           hint="export it as .txt/.docx/.csv/.xlsx, or pass --encoding if it is text")
    return text


def _cjk_share(text: str) -> float:
    """Share of Chinese characters and punctuation among the non-ASCII characters: near 1 for
    Chinese text decoded with the right code page, low for a wrong guess (even when the text is
    mostly digits and Latin, as survey exports are)."""
    wide = [c for c in text if c > "\x7f" and not c.isspace()]
    if not wide:
        return 0.0
    return sum(1 for c in wide if "\u4e00" <= c <= "\u9fff" or "\u3000" <= c <= "\u303f"
               or "\uff00" <= c <= "\uffef" or c in "“”‘’…—·") / len(wide)


def normalise_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")


# ---------------------------------------------------------------- manifest

def read_manifest(folder: Path, cfg: dict) -> dict[str, dict]:
    """manifest.csv/.yaml → {relative file path: metadata}; absent manifest → {}."""
    for name in MANIFEST_NAMES:
        path = folder / name
        if not path.exists():
            continue
        if path.suffix == ".csv":
            text, _ = decode_bytes(path.read_bytes(), str(path))
            frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
            rows = frame.to_dict("records")
        else:
            data = load_yaml(path)
            rows = data.get("files", data) if isinstance(data, dict) else data
            if isinstance(rows, dict):       # {file name: {region: …, …}}
                rows = [{"file": k, **(v or {})} for k, v in rows.items()]
            if not isinstance(rows, list):
                raise DiaoyanError("manifest YAML must be a list of mappings (or files: [...])",
                                   path=str(path))
        entries = {}
        for i, row in enumerate(rows):
            if not isinstance(row, dict) or not str(row.get("file", "")).strip():
                raise DiaoyanError(f"manifest row {i + 1} has no 'file'", path=str(path),
                                   line=i + 2 if path.suffix == ".csv" else None,
                                   hint="columns: file,region,org_type,form,date,interviewer")
            file = str(row["file"]).strip()
            entries[file] = {k: ("" if v is None else str(v).strip()) for k, v in row.items() if k != "file"}
            if not (folder / file).exists():
                log.warning("%s: manifest names %s, which is not in the input folder", path.name, file)
        return entries
    return {}


# ---------------------------------------------------------------- text transcripts

@dataclass
class _Line:
    start: int
    end: int
    text: str


def _lines(text: str) -> list[_Line]:
    out, pos = [], 0
    for raw in text.split("\n"):
        out.append(_Line(pos, pos + len(raw), raw))
        pos += len(raw) + 1
    return out


def _strip_span(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


# A line wholly in parentheses — "（笑）", "（记录整理：某办公室）" — is an editorial note, not speech.
NOTE_LINE = re.compile(r"^\s*(?:（[^（）]*）|\([^()]*\)|〔[^〔〕]*〕|\[[^\[\]]*\])\s*$")


def _label_of(line: str, known: set[str], label_counts: dict[str, int]) -> tuple[str, str, int] | None:
    """(label, title, length of the label prefix) when the line opens with a speaker label."""
    m = BRACKET_LABEL.match(line)
    if m:
        label = m.group(1).strip()
        if label in HEADER_LABELS or label in NOT_LABELS:
            return None
        return label, "", m.end()
    m = COLON_LABEL.match(line)
    if not m:
        return None
    label, title = m.group(1), (m.group(2) or "").strip()
    if label in known:
        return label, title, m.end()
    if label in HEADER_LABELS or label in NOT_LABELS or not any(c.isalpha() for c in label):
        return None
    colon = m.group(0).rstrip()[-1]
    if colon == ":" and label[-1].isdigit() and line[m.end():m.end() + 1].isdigit():
        return None          # a time of day: "上午9:30开会"
    if title or label_counts.get(label, 0) >= 2:
        return label, title, m.end()
    if len(label) <= 4 and not (set(label) & NOT_A_NAME_CHARS):
        return label, title, m.end()
    return None


# A line that ends a sentence, or a short line with no sentence punctuation (a heading such as
# 一、基本情况), ends a paragraph; a line cut mid-sentence does not.
SENTENCE_END = re.compile(r"[。！？!?…]+[”’」』）)\]]*$")


def ends_paragraph(line: str) -> bool:
    text = line.strip()
    return bool(SENTENCE_END.search(text)) or _looks_like_caption(text)


def parse_transcript(text: str, interviewer_labels: set[str], cells: dict[int, tuple[str, int]] | None = None,
                     captions: set[int] | None = None, known_labels: set[str] | None = None) -> list[dict]:
    """Normalised transcript text → turns {speaker, speaker_title, role?, question?, start, end}.

    Lines with a speaker label open a turn; unlabelled lines continue the current turn. In a
    document with no label at all, a paragraph is a turn: it ends at a blank line or at a line that
    ends a paragraph (ends_paragraph). Text before
    the first labelled turn is a header when the document has labels at all, and so are editorial
    notes on a line of their own ("（笑）"). `cells` maps the start offset of a table cell to
    (column header, end offset): a cell is a turn of its own, attributed to the document rather than
    to the last speaker. `captions` are start offsets of table captions (role header).
    """
    cells = cells or {}
    captions = captions or set()
    lines = _lines(text)
    counts: dict[str, int] = {}
    for ln in lines:
        m = COLON_LABEL.match(ln.text)
        if m:
            counts[m.group(1)] = counts.get(m.group(1), 0) + 1
    known = set(interviewer_labels) | set(known_labels or {"答", "A", "回答"})
    turns: list[dict] = []
    current: dict | None = None
    resume: tuple[str, str] | None = None     # speaker whose turn a note interrupted
    has_labels = False
    # Only a document no label claims splits at line ends: in a transcript, unlabelled lines belong to
    # the turn (or header) above them.
    paragraph_lines = not any(STT_HEADER.match(ln.text) or _label_of(ln.text, known, counts) for ln in lines)

    def close():
        if current is not None:
            s, e = _strip_span(text, current["start"], current["end"])
            if e > s:
                current["start"], current["end"] = s, e
                turns.append(current)

    def own_turn(start: int, end: int, **fields):
        s0, e0 = _strip_span(text, start, end)
        if e0 > s0:
            turns.append({"speaker": "", "speaker_title": "", "start": s0, "end": e0, **fields})

    i = 0
    while i < len(lines):
        ln = lines[i]
        i += 1
        stt = STT_HEADER.match(ln.text)
        if stt:
            close()
            has_labels, resume = True, None
            label = re.sub(r"\s+", "", stt.group(1))
            current = {"speaker": label, "speaker_title": "", "start": ln.start + stt.end(), "end": ln.end,
                       "labelled": True}
            continue
        if ln.start in cells:
            close()
            current, resume = None, None
            question, cell_end = cells[ln.start]
            while i < len(lines) and lines[i].start < cell_end:    # a cell may hold several paragraphs
                i += 1
            own_turn(ln.start, cell_end, role="respondent", question=question)
            continue
        if ln.start in captions or NOTE_LINE.match(ln.text):
            if current is not None and current["labelled"]:
                resume = (current["speaker"], current["speaker_title"])
            close()
            current = None
            own_turn(ln.start, ln.end, role="header")
            if ln.start in captions:
                resume = None
            continue
        if not ln.text.strip():
            # Blank line: ends a paragraph; an unlabelled document gets one turn per paragraph.
            if current is not None and not current["labelled"]:
                close()
                current = None
            continue
        found = _label_of(ln.text, known, counts)
        if found:
            close()
            has_labels, resume = True, None
            label, title, prefix = found
            current = {"speaker": label, "speaker_title": title, "start": ln.start + prefix,
                       "end": ln.end, "labelled": True}
            continue
        if current is None:
            speaker, title = resume or ("", "")
            current = {"speaker": speaker, "speaker_title": title, "start": ln.start, "end": ln.end,
                       "labelled": resume is not None}
            resume = None
        else:
            current["end"] = ln.end
        if paragraph_lines and ends_paragraph(ln.text):
            # Unlabelled text (a report, minutes, written answers) puts one paragraph on a line:
            # a turn per paragraph keeps context-reading within it, not across the document.
            close()
            current = None
    close()
    first_label = next((t["start"] for t in turns if t.get("labelled")), None)
    for t in turns:
        if "role" not in t and not t.pop("labelled"):
            before = first_label is not None and t["start"] < first_label
            t["role"] = "header" if has_labels and before else "respondent"
        t.pop("labelled", None)
    return turns


def is_question(turn_text: str) -> bool:
    """Does a turn read as a question? Speech-to-text output often has no question mark, so an
    unpunctuated ending counts when its last clause has a question word (什么, 有没有, 是不是…)."""
    text = turn_text.strip()
    if not text:
        return False
    if QUESTION_END.search(text):
        return True
    if text[-1] in "。．.！!；;…":
        return False
    last = re.split(r"[，,。．！!？?；;…]", text)[-1]
    return QUESTION_WORDS.search(last) is not None


def assign_roles(turns: list[dict], text: str, interviewer_labels: set[str],
                 override: str, question_share: float) -> None:
    """Set role on labelled turns: known interviewer labels, the manifest override, or — for
    generic labels like 发言人N — the speaker whose turns are mostly questions."""
    overrides = {s.strip() for s in re.split(r"[;；,，、]", override or "") if s.strip()}
    labelled = [t for t in turns if "role" not in t]
    generic = [t for t in labelled if re.match(r"^(发言人|说话人|讲话人|Speaker)", t["speaker"], re.I)]
    question_speaker = None
    if generic and not overrides:
        shares: dict[str, tuple[int, int]] = {}
        for t in generic:
            n, q = shares.get(t["speaker"], (0, 0))
            shares[t["speaker"]] = (n + 1, q + is_question(text[t["start"]:t["end"]]))
        ranked = sorted(shares.items(), key=lambda kv: (-kv[1][1] / kv[1][0], kv[0]))
        if ranked and ranked[0][1][1] / ranked[0][1][0] >= question_share:
            question_speaker = ranked[0][0]
    for t in labelled:
        label = t["speaker"]
        if overrides:
            is_interviewer = label in overrides
        else:
            is_interviewer = (label in interviewer_labels
                              or any(label.startswith(x) for x in interviewer_labels if len(x) > 1)
                              or label == question_speaker)
        t["role"] = "interviewer" if is_interviewer else "respondent"


# ---------------------------------------------------------------- docx

@dataclass
class _Block:
    text: str
    question: str = ""        # table column header, for a table cell
    kind: str = "paragraph"   # paragraph | cell | caption


def docx_blocks(data: bytes, source: str) -> list[_Block]:
    """.docx bytes → paragraphs and table cells in document order.

    A table's first row is its header: each later non-empty cell becomes a block carrying its column
    header as `question`. A one-row table has no header; its cells are plain blocks. A short
    paragraph right before a table, without sentence punctuation, is the table's caption.
    """
    import docx  # python-docx
    from docx.table import Table

    try:
        document = docx.Document(io.BytesIO(data))
        content = list(document.iter_inner_content())
    except Exception as err:   # BadZipFile, PackageNotFoundError, KeyError, lxml errors…
        raise DiaoyanError(f"not a readable .docx ({type(err).__name__}: {err})", path=source,
                           hint="re-save it from Word/WPS as .docx") from None
    out: list[_Block] = []
    for block in content:
        if isinstance(block, Table):
            cells = _table_cells(block)
            if cells and out and out[-1].kind == "paragraph" and _looks_like_caption(out[-1].text):
                out[-1].kind = "caption"
            out.extend(cells)
        else:
            out.append(_Block(block.text))
    return out


def _looks_like_caption(text: str) -> bool:
    text = text.strip()
    return 0 < len(text) <= 30 and not re.search(r"[。！？!?；;：:，,]", text)


def _table_cells(table) -> list[_Block]:
    rows = [list(row.cells) for row in table.rows]
    if not rows:
        return []
    seen: set[int] = set()     # merged cells come back once per grid position; keep each once

    def fresh(cell) -> bool:
        key = id(cell._tc)
        if key in seen:
            return False
        seen.add(key)
        return True

    if len(rows) == 1:
        return [_Block(c.text.strip(), "", "cell") for c in rows[0] if fresh(c) and c.text.strip()]
    header = [c.text.strip() for c in rows[0]]
    for c in rows[0]:
        fresh(c)
    out = []
    for row in rows[1:]:
        for col, cell in enumerate(row):
            value = cell.text.strip()
            if not fresh(cell) or not value or re.fullmatch(r"[\d.、\s]+", value):
                continue    # row numbers (序号) are not comments
            out.append(_Block(value, header[col] if col < len(header) else "", "cell"))
    return out


# ---------------------------------------------------------------- surveys

QUESTION_NUMBER = re.compile(r"^\s*(?:Q?\d+[、.．:：)）]\s*)")


def clean_header(header: str) -> str:
    """'6、您对改进机关作风有何意见建议？' → '您对改进机关作风有何意见建议？' (a metadata column name;
    the comment's `question` keeps the header whole, number included)."""
    return QUESTION_NUMBER.sub("", str(header)).strip()


def is_non_answer(value: str, non_answers: set[str]) -> bool:
    v = re.sub(r"[\s。.!！,，、]+$", "", value.strip()).lower()
    return not v or v in non_answers or re.fullmatch(r"[无没有暂空/\\\-—_.。…\s]+", v) is not None


# Short headers that name respondent details, never free-text answers (单位名称, 来自IP, 手机号…).
NOT_FREE_TEXT_HEADERS = re.compile(r"序号|编号|ID|IP|姓名|名字|名称|电话|手机|邮箱|微信号|地址|来源|渠道|"
                                   r"时间|日期|用时|身份|职务|职级|年龄|性别|学历", re.IGNORECASE)


def _is_metadata_header(header: str) -> bool:
    cleaned = clean_header(header)
    if any(h in cleaned for hints in METADATA_HINTS.values() for h in hints):
        return True
    return len(cleaned) <= 8 and NOT_FREE_TEXT_HEADERS.search(cleaned) is not None


def _letter_share(value: str) -> float:
    visible = [c for c in value if not c.isspace()]
    return sum(c.isalpha() for c in visible) / len(visible) if visible else 0.0


def detect_free_text(frame: pd.DataFrame, cfg: dict, non_answers: set[str]) -> list[str]:
    """Columns of long, mostly non-numeric, mostly distinct answers written in words.

    Respondent-detail columns (region, unit type, submit time, IP address, unit name…) are never
    free text, and neither are columns whose values are mostly digits and symbols (IP addresses,
    ISO time stamps).
    """
    named = cfg.get("free_text_columns") or []
    if named:
        missing = [c for c in named if c not in frame.columns and c not in map(clean_header, frame.columns)]
        if missing:
            raise DiaoyanError(f"free_text_columns names columns not in the file: {missing}",
                               hint=f"columns are: {list(frame.columns)}")
        return [c for c in frame.columns if c in named or clean_header(c) in named]
    chosen = []
    for col in frame.columns:
        if _is_metadata_header(str(col)):
            continue
        values = [v.strip() for v in frame[col].astype(str) if not is_non_answer(v, non_answers)]
        if len(values) < 3:
            continue
        non_numeric = [v for v in values if not _numeric_or_date(v)]
        if not non_numeric:
            continue
        share = len(non_numeric) / len(values)
        mean_len = sum(map(len, non_numeric)) / len(non_numeric)
        distinct = len(set(non_numeric)) / len(non_numeric)
        wordy = sum(map(_letter_share, non_numeric)) / len(non_numeric)
        if (share >= cfg["free_text_min_non_numeric_share"]
                and mean_len >= cfg["free_text_min_mean_chars"] and distinct >= 0.5 and wordy >= 0.5):
            chosen.append(col)
    return chosen


def _numeric_or_date(value: str) -> bool:
    return re.fullmatch(r"[\d\s.:/\-年月日时分秒T]+", value.strip()) is not None


METADATA_HINTS = {
    "region": ("区域", "地区", "所在地", "区县", "县区", "所属区"),
    "org_type": ("单位类型", "单位性质", "企业类型", "机构类型", "所在单位"),
    "date": ("提交答卷时间", "提交时间", "答题时间", "填写时间"),
}


def survey_rows(frame: pd.DataFrame, cfg: dict) -> tuple[list[dict], list[str], pd.DataFrame]:
    """Survey table → (answer records, free-text columns, respondents table)."""
    non_answers = {str(x).lower() for x in cfg["non_answers"]}
    frame = frame.fillna("").astype(str)
    free = detect_free_text(frame, cfg, non_answers)
    if not free:
        raise DiaoyanError(f"no free-text answer column found among {len(frame.columns)} columns",
                           hint="name the columns in configs/default.yaml ingest.free_text_columns")
    meta_cols = [c for c in frame.columns if c not in free]
    id_col = next((c for c in frame.columns if clean_header(c) in ("序号", "编号", "答卷编号", "ID", "id")), None)
    respondents, answers = [], []
    for idx, row in frame.iterrows():
        rid = row[id_col].strip() if id_col and row[id_col].strip() else str(idx + 1)
        meta = {clean_header(c): row[c].strip() for c in meta_cols}
        standard = {}
        for key, hints in METADATA_HINTS.items():
            col = next((c for c in meta if any(h in c for h in hints)), None)
            if col and meta[col]:
                standard[key] = meta[col]
        respondents.append({"respondent_id": rid, **standard, **meta})
        for col in free:
            value = row[col]
            if is_non_answer(value, non_answers):
                continue
            answers.append({"respondent_id": rid, "question": str(col).strip(), "text": value,
                            "standard": standard, "row": idx + 2})
    return answers, free, pd.DataFrame(respondents)


def read_table(data: bytes, path: Path, source: str, encoding: str | None) -> pd.DataFrame:
    if path.suffix.lower() == ".xlsx":
        try:
            return pd.read_excel(io.BytesIO(data), dtype=str, engine="openpyxl")
        except Exception as err:   # BadZipFile, InvalidFileException, KeyError…
            raise DiaoyanError(f"not a readable .xlsx ({type(err).__name__}: {err})", path=source,
                               hint="re-save it from Excel/WPS as .xlsx") from None
    text, _ = decode_bytes(data, source, encoding)
    try:
        return pd.read_csv(io.StringIO(normalise_newlines(text)), dtype=str, keep_default_na=False)
    except pd.errors.ParserError as err:
        line = re.search(r"line (\d+)", str(err))
        raise DiaoyanError(f"malformed CSV: {err}", path=source,
                           line=int(line.group(1)) if line else None,
                           hint="check quoting on that line") from None


# ---------------------------------------------------------------- one file

def ingest_file(path: Path, source: str, doc_id: str, metadata: dict, cfg: dict,
                encoding: str | None = None) -> tuple[Document, list[dict], pd.DataFrame | None]:
    """One input file → (document, turn records, survey respondents or None).

    `cfg` is the whole pipeline config or just its `ingest` section."""
    cfg = _ingest_cfg(cfg)
    data = path.read_bytes()
    suffix = path.suffix.lower()
    interviewer_labels = set(cfg["interviewer_labels"])
    answer_labels = set(cfg.get("respondent_answer_labels") or ("答", "A", "回答"))
    respondents = None
    used_encoding = ""
    if suffix in TEXT_SUFFIXES:
        text, used_encoding = decode_bytes(data, source, encoding)
        text = normalise_newlines(text)
        turns = parse_transcript(text, interviewer_labels, known_labels=answer_labels)
    elif suffix in DOCX_SUFFIXES:
        text, turns = _docx_document(data, source, interviewer_labels, answer_labels)
    elif suffix in TABLE_SUFFIXES:
        frame = read_table(data, path, source, encoding)
        answers, _free, respondents = survey_rows(frame, cfg)
        parts, turns, pos = [], [], 0
        for ans in answers:
            value = normalise_newlines(ans["text"])
            turns.append({"speaker": f"答卷{ans['respondent_id']}", "speaker_title": "",
                          "role": "respondent", "respondent_id": ans["respondent_id"],
                          "question": ans["question"], "start": pos, "end": pos + len(value),
                          "overrides": ans["standard"]})
            parts.append(value)
            pos += len(value) + 1
        text = "\n".join(parts)
        for t in turns:
            t["start"], t["end"] = _strip_span(text, t["start"], t["end"])
        turns = [t for t in turns if t["end"] > t["start"]]
        respondents.insert(0, "source", source)
    else:
        raise DiaoyanError(f"unsupported file type {suffix or '(none)'}", path=source,
                           hint="supported: .txt .md .docx .csv .xlsx")
    assign_roles(turns, text, interviewer_labels, metadata.get("interviewer", ""),
                 cfg["question_share_for_interviewer"])
    doc = Document(doc_id, source, text, metadata, checksum_bytes(data), used_encoding)
    records = []
    for i, t in enumerate(turns):
        meta = {**metadata, **t.pop("overrides", {})}
        records.append({
            "doc_id": doc_id, "source": source, "speaker": t["speaker"],
            "speaker_title": t.get("speaker_title", ""), "role": t["role"],
            "respondent_id": t.get("respondent_id", ""),
            "region": meta.get("region", ""), "org_type": meta.get("org_type", ""),
            "form": meta.get("form", ""), "date": meta.get("date", ""),
            "question": t.get("question", ""), "turn": i, "start": t["start"], "end": t["end"],
            "text": text[t["start"]:t["end"]],
        })
    return doc, records, respondents


def _docx_document(data: bytes, source: str, interviewer_labels: set[str],
                   answer_labels: set[str]) -> tuple[str, list[dict]]:
    """docx → (normalised text, turns); each table cell is its own turn carrying its column header."""
    lines, cells, captions, pos = [], {}, set(), 0
    for block in docx_blocks(data, source):
        value = normalise_newlines(block.text)
        if block.kind == "cell":
            cells[pos] = (block.question, pos + len(value))
        elif block.kind == "caption":
            captions.add(pos)
        lines.append(value)
        pos += len(value) + 1
    text = "\n".join(lines)
    return text, parse_transcript(text, interviewer_labels, cells, captions, answer_labels)


def _ingest_cfg(cfg: dict) -> dict:
    """Accept the whole config or its `ingest` section."""
    return cfg["ingest"] if isinstance(cfg.get("ingest"), dict) else cfg


# ---------------------------------------------------------------- folder

def run(folder: Path, cfg: dict, encoding: str | None = None, strict: bool = False) -> IngestResult:
    """Every supported file under folder → IngestResult; failures are recorded per file.

    `cfg` is the whole pipeline config or just its `ingest` section. A file that cannot be read is
    logged and recorded as skipped with its reason; with strict=True it raises DiaoyanError."""
    cfg = _ingest_cfg(cfg)
    folder = Path(folder)
    if not folder.is_dir():
        raise DiaoyanError("input folder not found", path=str(folder),
                           hint="pass IN=<folder with transcripts>")
    manifest = read_manifest(folder, cfg)
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.name not in MANIFEST_NAMES
                   and not p.name.startswith((".", "~$")))
    documents, records, surveys, statuses = [], [], [], []
    defaults = dict(cfg["default_metadata"])
    for n, path in enumerate(files, start=1):
        source = path.relative_to(folder).as_posix()
        doc_id = f"D{n:02d}"
        status = {"file": source, "doc_id": doc_id, "checksum": "", "bytes": path.stat().st_size}
        metadata = {**defaults, **{k: v for k, v in manifest.get(source, {}).items() if v != ""}}
        if "interviewer" not in metadata:
            metadata["interviewer"] = ""
        try:
            doc, recs, respondents = ingest_file(path, source, doc_id, metadata, cfg, encoding)
            status["checksum"] = doc.checksum
            if not recs:
                raise DiaoyanError("no text found", path=source, hint="is the file empty?")
        except DiaoyanError as err:
            if strict:
                raise
            log.warning("skipped %s: %s", source, err)
            statuses.append({**status, "status": "skipped", "reason": str(err)})
            continue
        except Exception as err:  # a corrupt file must not stop the other files
            if strict:
                raise DiaoyanError(f"cannot read ({type(err).__name__}: {err})", path=source) from None
            log.warning("skipped %s: %s: %s", source, type(err).__name__, err)
            statuses.append({**status, "status": "skipped", "reason": f"{type(err).__name__}: {err}"})
            continue
        documents.append(doc)
        records.extend(recs)
        if respondents is not None:
            surveys.append(respondents)
        statuses.append({**status, "status": "processed", "encoding": doc.encoding,
                         "turns": len(recs),
                         "respondent_turns": sum(r["role"] == "respondent" for r in recs)})
    turns = pd.DataFrame(records, columns=TURN_COLUMNS)
    respondents = pd.concat(surveys, ignore_index=True) if surveys else pd.DataFrame()
    return IngestResult(documents, turns, respondents, statuses)
