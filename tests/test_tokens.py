import pickle

from sklearn.feature_extraction.text import TfidfVectorizer

from train.tokens import JiebaTokenizer, normalize, read_user_words


def test_normalize_folds_traditional_width_and_case() -> None:
    assert normalize("ＯｐｅｎＡＩ執行長奧特曼離職") == "openai首席执行官奥特曼离职"
    assert normalize("人工智慧軟體") == "人工智能软件"


def test_user_words_stay_whole() -> None:
    plain = JiebaTokenizer()("超级对齐团队解散")
    with_dict = JiebaTokenizer(["超级对齐"])("超级对齐团队解散")
    assert "超级对齐" not in plain
    assert "超级对齐" in with_dict


def test_punctuation_and_spaces_are_dropped() -> None:
    tokens = JiebaTokenizer()("sam altman，回归！")
    assert tokens == ["sam", "altman", "回归"]


def test_tokenizer_pickles_small_and_tokenizes_the_same() -> None:
    tokenizer = JiebaTokenizer(["布罗克曼"])
    before = tokenizer("布罗克曼宣布休假")
    payload = pickle.dumps(tokenizer)
    assert len(payload) < 1000  # the words travel, not jieba's dictionary
    assert pickle.loads(payload)("布罗克曼宣布休假") == before


def test_tokenizer_works_inside_a_vectorizer() -> None:
    analyzer = TfidfVectorizer(tokenizer=JiebaTokenizer(["舒尔曼"]), token_pattern=None).build_analyzer()
    assert "舒尔曼" in analyzer("舒尔曼加盟anthropic")


def test_read_user_words_skips_comments(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "dict.txt"
    path.write_text("# names\n奥特曼 10 nr\n\nanthropic\n", encoding="utf-8")
    assert read_user_words(path) == ("奥特曼", "anthropic")


def test_each_engine_keeps_user_words_and_travels_in_the_pickle() -> None:
    for tokenizer in (JiebaTokenizer(["超级对齐"], engine="rjieba"), JiebaTokenizer(["超级对齐"], hmm=False)):
        restored = pickle.loads(pickle.dumps(tokenizer))
        assert (restored.engine, restored.hmm) == (tokenizer.engine, tokenizer.hmm)
        assert "超级对齐" in restored("超级对齐团队解散")


def test_the_model_records_the_tokenizer_it_was_trained_with() -> None:
    from train.config import FitConfig
    from train.model import build_pipeline

    for kind, engine, hmm in (("rjieba", "rjieba", True), ("jieba", "jieba", True), ("jieba-nohmm", "jieba", False)):
        pipeline = pickle.loads(pickle.dumps(build_pipeline(FitConfig(tokenizer=kind))))  # type: ignore[arg-type]
        word = dict(pipeline.named_steps["features"].transformer_list)["word"].tokenizer
        assert (word.engine, word.hmm) == (engine, hmm)


def test_segmentation_is_memoized_only_while_training() -> None:
    from train import tokens

    tokenizer = JiebaTokenizer()
    tokens._cut_memoized.cache_clear()
    tokenizer("预测时每段只切一次")
    assert tokens._cut_memoized.cache_info().currsize == 0  # prediction: memory flat on any input
    with tokens.memoized():
        tokenizer("训练时同一段落会被反复切分")
    assert tokens._cut_memoized.cache_info().currsize == 1
