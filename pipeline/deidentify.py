"""Comments + quotes → the same with personal names, titles-with-surname, phones, IDs, emails and plates replaced by consistent placeholders."""

from __future__ import annotations

import re
from collections import Counter

import pandas as pd

# The common Chinese surnames (a person-name candidate must start with one).
SURNAMES = set(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程"
    "苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝"
    "龚邵万钱严覃武戴莫孔向汤常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞"
    "左柳甘祝包宁尚符舒阮柯纪梅童凌毕单季裴霍涂成苗谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲房滕"
    "屈饶解牟艾尤阳时穆农司卓古吉缪简车项连芦麦褚娄窦戚岑景党宫费卜冷晏席卫米柏宗瞿桂全佟应臧"
    "闵苟邬边卞姬师和仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩明佘池查麻苑迟邝")
COMPOUND_SURNAMES = ("欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "尉迟", "公孙", "慕容", "长孙",
                     "宇文", "司徒", "夏侯", "令狐", "端木", "独孤", "南宫", "西门", "轩辕")
# Characters that never occur in the given-name part of a real name in this kind of text.
NOT_IN_GIVEN_NAME = set("的是了得着过们这那里时间个和就都也要会能说在有不没很太吗呢吧啊么上下去来被把让给"
                        "对从向还又再才只已将等些每各您你我他她它啥吧嘛哦嗯呀")
# A word ending like this is a place, organisation or thing, not a person.
PLACE_ENDINGS = set("省市县区镇乡村街路巷道州局委办厅处科院校馆站所队组部室司厂店园场港湾山河湖江桥楼"
                    "茶米费税证卡网群会栋屯营寨庄湾岭坡沟洲岛港")
# Department short names jieba's HMM likes to tag as person names (卫健来查, 安监、市场监管…).
DEPARTMENT_SHORT_NAMES = {
    "卫健", "卫计", "安监", "应急", "城管", "住建", "人社", "发改", "市监", "自规", "文旅", "交通", "水利",
    "林业", "公安", "民政", "财政", "审计", "统计", "税务", "环保", "生态", "消防", "信访", "网信", "国资",
    "商务", "工信", "教体", "医保", "残联", "妇联", "团委", "编办", "组织", "宣传", "统战", "政法", "纪委",
    "监委", "巡察", "督查", "农业", "农村", "科技", "司法", "规划", "国土", "房管", "金融", "邮政", "电力",
    "燃气", "供水", "人防", "档案", "气象", "地震", "海关", "边检", "法院", "检察", "营商",
}
# Surname characters that are mostly prepositions/conjunctions before a title (我和书记说, 向书记汇报,
# 连书记都不知道, 应主任要求): redacted only when jieba tags them as a name.
AMBIGUOUS_SURNAMES = set("和向于连应时从")
NOT_A_SURNAME_FLAGS = {"a", "ad", "an", "v", "vd", "vn", "c", "p", "d", "u", "ul", "uj", "uz", "ug",
                       "uv", "m", "r", "f"}
# 刘总能… / 王总是… / 李董说…: one-character function words jieba may glue onto a title.
TITLE_GLUE = set("能要是说得会算归想让在还也都就又才")
GENERIC_SPEAKER = re.compile(r"^(?:发言人|说话人|讲话人|答卷|受访者|参会人员?|代表|嘉宾|群众|记录人?|"
                             r"主持人?|Speaker\s*|[A-Za-z]|[问答])\s*\d*$", re.IGNORECASE)

EMAIL = re.compile(r"(?<![A-Za-z0-9._%+\-])[A-Za-z0-9][A-Za-z0-9._%+\-]*@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}")
ID_NUMBER = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")
MOBILE = re.compile(r"(?<![0-9])(?:(?:\+|00)?86[- ]?)?1[3-9]\d(?:[- ]?\d{4}){2}(?![0-9])")
LANDLINE = re.compile(r"(?<![0-9])(?:[(（]0\d{2,3}[)）]|0\d{2,3})[- ]?\d{7,8}(?![0-9])")
PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
PLATE = re.compile(rf"[{PROVINCES}][A-Z][·•・.\- ]?[A-Z0-9]{{5,6}}(?![A-Za-z0-9])")

PLACEHOLDERS = {"mobile": "[电话]", "landline": "[电话]", "id_number": "[身份证号]",
                "email": "[邮箱]", "plate": "[车牌]"}
PATTERNS = [("email", EMAIL), ("id_number", ID_NUMBER), ("mobile", MOBILE),
            ("landline", LANDLINE), ("plate", PLATE)]
COUNT_TYPES = ("name", "title", "mobile", "landline", "id_number", "email", "plate")
PREFIXES = {"respondent": "受访者", "interviewer": "调研人员", "mention": "某人"}


def _letters(n: int) -> str:
    """0 → A, 25 → Z, 26 → AA …"""
    out = ""
    n += 1
    while n:
        n, rem = divmod(n - 1, 26)
        out = chr(65 + rem) + out
    return out


def split_surname(word: str) -> tuple[str, str] | None:
    for compound in COMPOUND_SURNAMES:
        if word.startswith(compound):
            return compound, word[len(compound):]
    if word[:1] in SURNAMES:
        return word[:1], word[1:]
    return None


def looks_like_name(word: str, allow: set[str] = frozenset()) -> bool:
    """Surname + 1–2 given-name characters, all Chinese, no function words, not a place."""
    if word in allow or not re.fullmatch(r"[\u4e00-\u9fff]{2,4}", word):
        return False
    parts = split_surname(word)
    if not parts:
        return False
    surname, given = parts
    if not 1 <= len(given) <= 2:
        return False
    if any(ch in NOT_IN_GIVEN_NAME for ch in given) or word[-1] in PLACE_ENDINGS:
        return False
    return True


class Redactor:
    """Replaces personal data in text with placeholders; the same person gets the same pseudonym.

    Build it, `add_person()` the known names (speaker labels, configured names), `learn()` every
    text once (finds names jieba tags `nr`), then `redact()` them. `redact()` also works on any
    other string of the run (run.json) with what was learned.
    """

    def __init__(self, cfg: dict, segmenter=None):
        dcfg = cfg.get("deidentify", {})
        self.titles = sorted({t for t in dcfg.get("titles", []) if t}, key=lambda t: (-len(t), t))
        self.allow = set(dcfg.get("allow", [])) | DEPARTMENT_SHORT_NAMES
        icfg = cfg.get("ingest", {})
        self.generic = set(icfg.get("interviewer_labels", [])) | set(icfg.get("respondent_answer_labels", []))
        self.segmenter = segmenter
        self._pos = None
        self.people: dict[str, str] = {}           # name → pseudonym
        self._next: Counter = Counter()            # prefix → letters used
        self.counts: Counter = Counter()
        self._names_re: re.Pattern | None = None
        self._title_re = None
        if self.titles:
            surnames = "|".join(COMPOUND_SURNAMES) + "|[" + "".join(sorted(SURNAMES)) + "]"
            self._title_re = re.compile(
                rf"(?P<surname>{surnames})(?P<title>(?:副|常务)?(?:{'|'.join(map(re.escape, self.titles))}))")
        self._nick_re = None
        for name in dcfg.get("names", []) or []:
            if name and str(name).strip():
                self.add_person(str(name).strip(), "mention")

    # ---------------------------------------------------------------- people

    @property
    def pos_tokenizer(self):
        if self._pos is None and self.segmenter is not None:
            import jieba.posseg
            self._pos = jieba.posseg.POSTokenizer(self.segmenter.tokenizer)
        return self._pos

    def is_speaker_name(self, label: str) -> bool:
        """A speaker label that is a personal name (周建华), not a role (主持人, 发言人2, 答卷17)."""
        label = (label or "").strip()
        if not label or label in self.generic or GENERIC_SPEAKER.match(label):
            return False
        if self.title_match(label):
            return False                           # 刘总: a surname + title, handled as such
        return looks_like_name(label, self.allow)

    def title_match(self, label: str) -> bool:
        return bool(self._title_re and self._title_re.fullmatch(label))

    def add_person(self, name: str, kind: str = "mention") -> str:
        if name not in self.people:
            prefix = PREFIXES.get(kind, PREFIXES["mention"])
            self.people[name] = f"{prefix}{_letters(self._next[prefix])}"
            self._next[prefix] += 1
            self._names_re = None
            self._nick_re = None
        return self.people[name]

    def _names_pattern(self) -> re.Pattern | None:
        if self._names_re is None and self.people:
            names = sorted(self.people, key=lambda n: (-len(n), n))
            self._names_re = re.compile("|".join(map(re.escape, names)))
        return self._names_re

    def _nick_pattern(self) -> re.Pattern | None:
        """老周 / 小林: 老 or 小 + the surname of a known person."""
        if self._nick_re is None:
            surnames = sorted({p[0] for p in (split_surname(n) for n in self.people) if p})
            self._nick_re = re.compile(rf"[老小](?:{'|'.join(surnames)})") if surnames else False
        return self._nick_re or None

    def _name_candidate(self, word: str) -> bool:
        if word in self.people or not looks_like_name(word, self.allow) or self.title_match(word):
            return False
        # A word in the dictionary is a name only if the dictionary itself says so (rarely used).
        known = self.segmenter.tokenizer.FREQ.get(word) or 0
        return not known or (self.pos_tokenizer.word_tag_tab.get(word, "").startswith("nr") and known < 10)

    def learn(self, text: str) -> None:
        """Register the personal names jieba tags `nr` in text (new ones get the next pseudonym).

        The plain tokenizer finds candidate words first (cheap); only texts with a candidate are
        tagged, and a candidate counts when the tagger calls it a person name.
        """
        if not text or self.pos_tokenizer is None:
            return
        if not any(self._name_candidate(w) for w in self.segmenter.tokenizer.cut(text, HMM=True)):
            return
        for pair in self.pos_tokenizer.lcut(text):
            if pair.flag.startswith("nr") and self._name_candidate(pair.word):
                self.add_person(pair.word, "mention")

    # ---------------------------------------------------------------- redaction

    def _tokens(self, text: str) -> list[tuple[int, int, str]]:
        spans, pos = [], 0
        for tok in self.segmenter.tokenizer.cut(text, HMM=True):
            spans.append((pos, pos + len(tok), tok))
            pos += len(tok)
        return spans

    def _on_word_boundary(self, text: str, spans: list[tuple[int, int, str]], start: int,
                          end: int) -> bool:
        """Is text[start:end] (surname + title, 老/小 + surname) a word of its own?

        提高总体 → "高总" starts inside 提高: not a person. 我和书记说 / 向书记汇报: 和 and 向 are
        surnames only when jieba tags them as names. When the match ends inside a dictionary word
        (刘 / 总能 / 先介绍) it counts only if the lone surname is not tagged as an adjective, verb
        or function word (质量高总体来说 stays).
        """
        if not spans:
            return True
        if not any(s == start for s, _, _ in spans):
            return False
        first = text[start]
        if first in "老小":
            first = text[start + 1]
        elif first in AMBIGUOUS_SURNAMES and not self._flag_at(text, start).startswith("nr"):
            return False
        freq = self.segmenter.tokenizer.FREQ
        for s, e, tok in spans:
            if s < end < e and (freq.get(tok) or 0):
                # 刘 / 总能: the title glued to one function character is still a title;
                # 周 / 总结, 高 / 总体 are words of their own.
                glued = text[s:end] and tok.startswith(text[s:end]) and len(tok) == end - s + 1 \
                    and tok[-1] in TITLE_GLUE
                return bool(glued) and self._flag_at(text, start) not in NOT_A_SURNAME_FLAGS
        return True

    def _flag_at(self, text: str, start: int) -> str:
        """jieba's part-of-speech tag of the word starting at text[start] ("" if none starts there)."""
        if self.pos_tokenizer is None:
            return ""
        pos = 0
        for pair in self.pos_tokenizer.lcut(text):
            if pos == start:
                return pair.flag
            pos += len(pair.word)
            if pos > start:
                break
        return ""

    def _starts_clean(self, text: str, spans: list[tuple[int, int, str]], start: int, end: int) -> bool:
        """A known two-character name counts unless a dictionary word runs across its first
        character (感谢宇航 does not contain 谢宇; 如何静下心 does not contain 何静). Longer names
        always count: 一下周建华 contains 周建华 although jieba reads 下周."""
        if end - start >= 3:
            return True
        freq = self.segmenter.tokenizer.FREQ if self.segmenter is not None else {}
        return not any(s < start < e and (freq.get(tok) or 0) for s, e, tok in spans)

    def _sub_checked(self, pattern: re.Pattern, text: str, repl, kind: str, count: bool,
                     check=None) -> str:
        matches = list(pattern.finditer(text))
        if not matches:
            return text
        spans = self._tokens(text) if self.segmenter is not None else []
        check = check or self._on_word_boundary
        out, last = [], 0
        for m in matches:
            if not check(text, spans, m.start(), m.end()):
                continue
            out.append(text[last:m.start()])
            out.append(repl(m))
            last = m.end()
            if count:
                self.counts[kind] += 1
        out.append(text[last:])
        return "".join(out)

    def redact(self, text, count: bool = True):
        """text with every known kind of personal data replaced; non-strings pass through."""
        if not isinstance(text, str) or not text:
            return text
        for kind, pattern in PATTERNS:
            text, n = pattern.subn(PLACEHOLDERS[kind], text)
            if count:
                self.counts[kind] += n
        names = self._names_pattern()
        if names is not None:
            text = self._sub_checked(names, text, lambda m: self.people[m.group(0)], "name", count,
                                     self._starts_clean)
        nick = self._nick_pattern()
        if nick is not None:
            text = self._sub_checked(nick, text, lambda m: m.group(0)[0] + "某", "title", count)
        if self._title_re is not None:
            text = self._sub_checked(self._title_re, text, lambda m: "某" + m.group("title"),
                                     "title", count)
        return text

    def summary(self) -> dict:
        out = {k: int(self.counts.get(k, 0)) for k in COUNT_TYPES}
        out["people"] = len(self.people)
        return out


def build_redactor(comments: pd.DataFrame, cfg: dict, segmenter=None) -> Redactor:
    """A Redactor that knows every speaker name and every name jieba finds in the comments,
    pseudonyms assigned in order of first appearance (deterministic for the same input)."""
    red = Redactor(cfg, segmenter)
    roles = comments["role"] if "role" in comments else pd.Series("respondent", index=comments.index)
    for label, role in zip(comments.get("speaker", pd.Series(dtype=str)).fillna(""), roles):
        if red.is_speaker_name(label):
            red.add_person(label.strip(), "interviewer" if role == "interviewer" else "respondent")
    for text in comments.get("text", pd.Series(dtype=str)).fillna(""):
        red.learn(text)
    return red


TEXT_FIELDS = ("text", "speaker", "speaker_title", "evidence")


def run(comments: pd.DataFrame, quotes: pd.DataFrame, cfg: dict, segmenter,
        redactor: Redactor | None = None) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """(comments, quotes, counts): personal data replaced in text, speaker, speaker_title, evidence
    and quote text/speaker/attribution; tokens are recomputed for the comments that changed."""
    red = redactor or build_redactor(comments, cfg, segmenter)
    out = comments.copy()
    for col in TEXT_FIELDS:
        if col in out:
            out[col] = [red.redact(v) for v in out[col]]
    if "tokens" in out and segmenter is not None:
        changed = out["text"] != comments["text"]
        out.loc[changed, "tokens"] = [" ".join(segmenter.tokens(t)) for t in out.loc[changed, "text"]]
    q = quotes.copy()
    for col in ("text", "speaker", "attribution"):
        if col in q:
            q[col] = [red.redact(v, count=False) for v in q[col]]
    return out, q, red.summary()
