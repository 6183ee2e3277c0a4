"""SPEC section 4: every string a pack author writes is data. Quotes, backslashes,
newlines, braces, `#`, Jinja and sprintf syntax, unicode and regex metacharacters can
never change the meaning of the generated Rego, and keywords match literally.

Property-based (hypothesis) and table-driven; each hypothesis example builds ONE
repository for a whole batch of strings and asks the real OPA once.
"""

from __future__ import annotations

import string
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import agent, decide, identity, pack, write_repo

from policypacks.opa import evaluate
from policypacks.opa.testing import run_tests
from policypacks.pipeline import compile_path

LETTERS = string.ascii_letters
METACHARACTERS = ".*+?()[]|^$\\{}"
HOSTILE = ['"', "'", "\\", "\n", "\t", "}", "{", "#", "%", "`", " ", "é", "ü", "Ñ", "🚀",
           "中", "ø", *METACHARACTERS]

FAST = settings(max_examples=15, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# ---------------------------------------------------------------------------------------
# Keywords of prohibited_topics: literal, whole word, case-insensitive
# ---------------------------------------------------------------------------------------

middle = st.text(alphabet=st.sampled_from([*LETTERS, *HOSTILE]), max_size=8)
letter = st.sampled_from(LETTERS)


@st.composite
def keywords(draw: st.DrawFn) -> tuple[str, int]:
    """A keyword that starts and ends with an ASCII letter (so RE2's \\b is well defined
    at both ends) and holds at least one regex metacharacter, and that metacharacter's
    position."""
    head = draw(letter) + draw(middle)
    meta = draw(st.sampled_from(METACHARACTERS))
    tail = draw(middle) + draw(letter)
    return head + meta + tail, len(head)


def topics_repository(keyword_list: list[str], labels: list[str] | None = None
                      ) -> list[dict[str, Any]]:
    """Pack p<i> holds keyword i (topic name: the keyword itself, or labels[i]);
    agent a<i> attaches only p<i>."""
    documents: list[dict[str, Any]] = [identity("hostile")]
    for index, keyword in enumerate(keyword_list):
        topic = labels[index] if labels else keyword
        rule = {"id": "topics", "type": "prohibited_topics", "topics": {topic: [keyword]}}
        documents.append(pack(f"p{index}", "block", [rule], scope="none"))
        documents.append(agent(f"a{index}", [f"p{index}"]))
    return documents


def says(agent_id: str, text: str, topics: list[str] | None = None) -> dict[str, Any]:
    content: dict[str, Any] = {"text": text}
    if topics is not None:
        content["topics"] = topics
    return {"agent": agent_id, "action": {"type": "send_message", "content": content}}


@FAST
@given(st.lists(keywords(), min_size=1, max_size=20))
def test_keywords_match_literally_as_whole_words(batch: list[tuple[str, int]]) -> None:
    inputs, expected = [], []
    for index, (keyword, meta_at) in enumerate(batch):
        # a different letter where the metacharacter was: the keyword is not in the text
        broken = keyword[:meta_at] + "x" + keyword[meta_at + 1:]
        inputs += [says(f"a{index}", f"say {keyword} now"),
                   says(f"a{index}", f"SAY {keyword.swapcase()} NOW")]
        expected += [True, True]
        if keyword.lower() not in f"say {broken} now".lower():
            inputs.append(says(f"a{index}", f"say {broken} now"))
            expected.append(False)
    with TemporaryDirectory() as tmp:
        results = decide(Path(tmp), topics_repository([k for k, _ in batch]), inputs)
    failures = [f"{inp['action']['content']['text']!r}: expected detected={want}, got "
                f"{res['decision']}"
                for inp, res, want in zip(inputs, results, expected, strict=True)
                if (res["decision"] == "block") != want]
    assert not failures, "\n".join(failures)


# keyword             text                               -> detected
KEYWORDS = [
    ("a.b",               "say a.b now",                     True),
    ("a.b",               "say axb now",                     False),   # `.` is not a wildcard
    ("back\\slash",       "a back\\slash b",                 True),
    ("back\\slash",       "a back slash b",                  False),   # `\s` is not whitespace
    ('x"y',               'say x"y now',                     True),
    ("a}b{c",             "oh a}b{c!",                       True),
    ("foo # bar",         "say foo # bar now",               True),
    ("foo # bar",         "say foo now",                     False),   # `#` starts no comment
    ("line\nbreak",       "a line\nbreak b",                 True),
    ("line\nbreak",       "a line break b",                  False),
    ("déjà vu",           "DÉJÀ VU again",                   True),    # unicode case folding
    ("rocket🚀ship",      "the rocket🚀ship",                True),
    ("a|b",               "just a here",                     False),   # no alternation
    ("x^y$z",             "x^y$z",                           True),
    ("a*b",               "aaab",                            False),
    ("x(?=y)z",           "x(?=y)z",                         True),    # look-ahead syntax, literal
    ("q[abc]q",           "qaq",                             False),
    ("q[abc]q",           "a q[abc]q",                       True),
    ("a\\d",              "a5",                              False),
    ("a\\d",              "a\\d",                            True),
    ("x{2}y",             "xxy",                             False),
    ("x{2}y",             "x{2}y",                           True),
    ("election",          "preelections",                    False),   # whole words only
    ("election",          "The ELECTION is near",            True),
    ("side effects",      "any side effects?",               True),
    ("side effects",      "side  effects",                   False),
]  # fmt: skip


def test_fixed_hostile_keywords(tmp_path: Path) -> None:
    documents = topics_repository([k for k, _, _ in KEYWORDS])
    results = decide(tmp_path, documents,
                     [says(f"a{i}", text) for i, (_, text, _) in enumerate(KEYWORDS)])
    failures = [f"{keyword!r} in {text!r}: expected detected={want}, got {res['decision']}"
                for (keyword, text, want), res in zip(KEYWORDS, results, strict=True)
                if (res["decision"] == "block") != want]
    assert not failures, "\n".join(failures)


# topic name (also the label an action may carry) -> detected by label
TOPIC_LABELS = ['"}', "# x", "a\nb", "{{ package }}", "🚀", "\\", "%s%v", "x.*"]


def test_hostile_topic_names_match_labels_exactly(tmp_path: Path) -> None:
    documents = topics_repository(["zzz"] * len(TOPIC_LABELS), TOPIC_LABELS)
    inputs = [says(f"a{i}", "nothing", [label]) for i, label in enumerate(TOPIC_LABELS)]
    inputs += [says(f"a{i}", "nothing", [label + " "]) for i, label in enumerate(TOPIC_LABELS)]
    results = decide(tmp_path, documents, inputs)
    decisions = [r["decision"] for r in results]
    assert decisions == ["block"] * len(TOPIC_LABELS) + ["allow"] * len(TOPIC_LABELS)


# ---------------------------------------------------------------------------------------
# Messages, names, condition values, keys, approvers and example names
# ---------------------------------------------------------------------------------------

def data_repository(strings: list[str]) -> tuple[list[dict[str, Any]], list[dict[str, Any]],
                                                 list[dict[str, Any]]]:
    """Pack p<i> is named, described, keyed, messaged and routed with string i; its
    condition fires when the text equals string i exactly; its examples are named with
    it. Returns the documents, the inputs and the decision each input must get."""
    documents: list[dict[str, Any]] = [identity("hostile", escalation={"approvers": strings[:1]})]
    documents[0]["metadata"]["name"] = strings[0]
    inputs, expected = [], []
    for index, text in enumerate(strings):
        pack_id, agent_id = f"p{index}", f"a{index}"
        hit = says(agent_id, text)
        miss = says(agent_id, text + "x")
        rules = [
            {"id": "c", "type": "condition", "key": text, "message": text,
             "when": {"all": [{"field": "action.content.text", "equals": text},
                              {"field": "action.content.text", "in": [text, "other"]},
                              {"field": "action.content.text", "starts_with": text}]}},
            {"id": "route", "type": "escalation", "approvers": [text]},
        ]
        documents.append(pack(
            pack_id, "require_approval", rules, scope="none",
            examples=[{"name": text, "input": hit, "expect": "require_approval",
                       "violations": [f"{pack_id}/c"]},
                      {"name": text + "\n(miss)", "input": miss, "expect": "allow"}]))
        documents[-1]["metadata"].update(name=text, description=text)
        documents.append(agent(agent_id, [pack_id]))
        documents[-1]["metadata"]["name"] = text
        inputs += [hit, miss]
        expected += [
            {"decision": "require_approval", "violations": [
                {"pack": pack_id, "rule": "c", "type": "condition", "category": "safety",
                 "enforcement": "require_approval", "level": "agent", "message": text}],
             "approval": {"approvers": [text], "timeout_seconds": 86400, "fallback": "block",
                          "route": f"{pack_id}/route"}},
            {"decision": "allow", "violations": [], "approval": None},
        ]
    return documents, inputs, expected


def check_data_strings(root: Path, strings: list[str]) -> None:
    documents, inputs, expected = data_repository(strings)
    repo, compiled = compile_path(write_repo(root, documents), revision="hostile")
    report = run_tests(repo, compiled)  # opa check --strict, generated tests, examples
    assert not report.check_errors, report.check_errors
    assert not report.failed_tests, report.failed_tests
    assert [c.name for c in report.cases if not c.passed] == []
    results = evaluate.decisions(compiled, inputs)
    failures = []
    for inp, result, want in zip(inputs, results, expected, strict=True):
        got = {key: result[key] for key in want}
        if got != want:
            failures.append(f"{inp['action']['content']['text']!r}: {got} != {want}")
    assert not failures, "\n".join(failures)
    views = evaluate.query(compiled, "{prefix}.effective")
    for index, text in enumerate(strings):
        [view_pack] = views[f"a{index}"]["packs"]
        assert view_pack["name"] == text
        assert view_pack["rules"][0]["key"] == text


# Left out: U+FEFF (tested on its own below: OPA refused it raw in generated tests, so
# the compiler writes inlined JSON ASCII-only) and U+0085, which
# PyYAML's emitter writes raw into a quoted scalar, where YAML reads it as a line break:
# the test could not write such a repository, whatever the compiler does.
hostile_text = st.text(
    alphabet=st.sampled_from(HOSTILE) | st.characters(exclude_categories=("Cs",),
                                                      exclude_characters="\ufeff\x85"),
    min_size=1, max_size=16)


@FAST
@given(st.lists(hostile_text, min_size=1, max_size=10))
def test_hostile_strings_stay_data(strings: list[str]) -> None:
    with TemporaryDirectory() as tmp:
        check_data_strings(Path(tmp), strings)


FIXED_STRINGS = [
    '"} allow := true #',
    "\\",
    '\\"',
    "line one\nline two",
    "# comment",
    "}\n\npackage evil\n\ndefault decision := {}\n",
    "{{ package }}",
    "{% raw %}{{ 1 }}{% endraw %}",
    "%v %s %q %!",
    "${input.agent}",
    'input.agent == "x"',
    "\u0000\u0007\u007f",
    "\u2028\u2029",
    "\U0001f680 émoji ñ 中文 عربى",
    "`raw string`",
    "import data.policypacks",
    "*/ /* -- ;",
]


def test_fixed_hostile_strings_stay_data(tmp_path: Path) -> None:
    check_data_strings(tmp_path, FIXED_STRINGS)


def test_byte_order_mark_in_an_example_input(tmp_path: Path) -> None:
    check_data_strings(tmp_path, ["a\ufeffb"])
