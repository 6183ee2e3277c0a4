"""An independent, plain-Python reading of SPEC sections 3-5 and of section 4's input
contract.

Written from /work/shared/SPEC.md alone (not from the Rego templates or the rule
catalog) so tests/test_differential.py can compare it with the real compiled policy.
Covers every rule type except ``pii``. Regular expressions given to it must be ones on
which Python's ``re`` and RE2 agree (the generator only writes such patterns), except
that ``$`` is translated to RE2's end-of-text meaning.
"""

from __future__ import annotations

import fnmatch
import re
from typing import Any

RANK = {"allow": 0, "warn": 1, "require_approval": 2, "block": 3}
MISSING = object()
WORD = "A-Za-z0-9_"  # RE2 \b is ASCII

# ---------------------------------------------------------------- helpers


def is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def json_eq(a: Any, b: Any) -> bool:
    if is_num(a) and is_num(b):
        return a == b
    if type(a) is not type(b):
        if isinstance(a, bool) or isinstance(b, bool):
            return False
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(json_eq(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(json_eq(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def get(doc: Any, path: str) -> Any:
    cur = doc
    for seg in path.split("."):
        if not isinstance(cur, dict) or seg not in cur:
            return MISSING
        cur = cur[seg]
    return cur


def re2(pattern: str) -> re.Pattern[str]:
    # RE2's `$` (without (?m)) is end of text only; Python's also matches before a final \n.
    out, i = [], 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            out.append(pattern[i : i + 2])
            i += 2
            continue
        out.append(r"\Z" if c == "$" else c)
        i += 1
    return re.compile("".join(out))


def whole_word(term: str, text: str) -> bool:
    # \b boundaries as RE2 has them: ASCII word characters only, and not case-folded
    # (under Python's IGNORECASE `[A-Za-z]` would also match U+017F and U+212A).
    # A term is whole when no word character touches it on either side, whatever its own
    # first and last characters are (C++, $100: docs/validation.md).
    pat = f"(?-i:(?<![{WORD}]))" + re.escape(term) + f"(?-i:(?![{WORD}]))"
    return re.search(pat, text, re.IGNORECASE) is not None


def domain_in(domain: str, listed: list[str]) -> bool:
    d = domain.lower()
    for entry in listed:
        e = entry.lower()
        if d == e or d.endswith("." + e):
            return True
    return False


def duration(value: Any) -> int:
    if is_num(value):
        return int(value)
    total = 0
    for num, unit in re.findall(r"(\d+)([dhms])", str(value)):
        total += int(num) * {"d": 86400, "h": 3600, "m": 60, "s": 1}[unit]
    return total


# ---------------------------------------------------------------- conditions


def cond(c: dict[str, Any], inp: Any) -> bool:
    if "all" in c:
        return all(cond(x, inp) for x in c["all"])
    if "any" in c:
        return any(cond(x, inp) for x in c["any"])
    if "not" in c:
        return not cond(c["not"], inp)
    value = get(inp, c["field"])
    ((op, arg),) = [(k, v) for k, v in c.items() if k != "field"]
    if op == "exists":
        return (value is not MISSING) == bool(arg)
    if value is MISSING:
        return False
    if op == "equals":
        return json_eq(value, arg)
    if op == "not_equals":
        return not json_eq(value, arg)
    if op in ("gt", "gte", "lt", "lte"):
        if is_num(value) and is_num(arg) or isinstance(value, str) and isinstance(arg, str):
            return {"gt": value > arg, "gte": value >= arg, "lt": value < arg, "lte": value <= arg}[
                op
            ]
        return False
    if op == "in":
        return any(json_eq(value, x) for x in arg)
    if op == "not_in":
        return not any(json_eq(value, x) for x in arg)
    if op == "contains":
        if isinstance(value, str) and isinstance(arg, str):
            return arg in value
        if isinstance(value, list):
            return any(json_eq(x, arg) for x in value)
        return False
    if op == "matches":
        return isinstance(value, str) and re2(arg).search(value) is not None
    if op == "starts_with":
        return isinstance(value, str) and isinstance(arg, str) and value.startswith(arg)
    if op == "ends_with":
        return isinstance(value, str) and isinstance(arg, str) and value.endswith(arg)
    raise ValueError(op)


# ---------------------------------------------------------------- rule types


def _action(inp: Any) -> dict[str, Any]:
    a = inp.get("action") if isinstance(inp, dict) else None
    return a if isinstance(a, dict) else {}


def _content(action: dict[str, Any]) -> dict[str, Any] | None:
    c = action.get("content")
    return c if isinstance(c, dict) else None


def _text(action: dict[str, Any]) -> str | None:
    c = _content(action)
    if c is None:
        return None
    t = c.get("text")
    return t if isinstance(t, str) else None


def _topics(action: dict[str, Any]) -> list[Any]:
    c = _content(action) or {}
    t = c.get("topics")
    return t if isinstance(t, list) else []


def _narrow(rule: dict[str, Any], action: dict[str, Any]) -> bool:
    """Text rules: every action carrying content, `actions` narrows."""
    if _content(action) is None:
        return False
    return "actions" not in rule or action.get("type") in rule["actions"]


def _data(action: dict[str, Any]) -> dict[str, Any]:
    d = action.get("data")
    return d if isinstance(d, dict) else {}


def _classes_apply(rule_classes: list[str] | None, data: dict[str, Any]) -> bool:
    if rule_classes is None:
        return True
    classes = data.get("classes")
    if not isinstance(classes, list):
        return True  # fail closed
    return any(c in rule_classes for c in classes)


def _usage(inp: Any, path: str) -> Any:
    # "missing usage = 0"; a wrong-typed window counts as missing (ambiguity A2).
    v = get(inp, path)
    return v if is_num(v) else 0


def violated(rule: dict[str, Any], inp: Any, identity: dict[str, Any]) -> bool:
    t = rule["type"]
    action = _action(inp)
    atype = action.get("type")
    if t == "condition":
        return cond(rule["when"], inp)
    if t == "tone":
        if not _narrow(rule, action):
            return False
        content = _content(action)
        allowed = rule.get("allowed")
        if "tone" in content:
            label = content["tone"]
            return allowed is not None and label not in allowed
        text = _text(action)
        if text is None or allowed is None:
            return False
        return any(
            band not in allowed and any(re2(m).search(text) for m in pats)
            for band, pats in rule.get("markers", {}).items()
        )
    if t == "signature":
        if atype not in rule.get("actions", ["send_email"]):
            return False
        text = _text(action)
        # "trailing space ignored": ASCII whitespace (the implementation's reading too)
        return text is None or not text.rstrip(" \t\n\r\f\v").endswith(rule["text"])
    if t == "formatting":
        if not _narrow(rule, action):
            return False
        text = _text(action)
        if text is None:
            return False
        if "max_length" in rule and len(text) > rule["max_length"]:
            return True
        if any(re2(p).search(text) for p in rule.get("forbid", [])):
            return True
        return any(not re2(p).search(text) for p in rule.get("require", []))
    if t == "terminology":
        if not _narrow(rule, action):
            return False
        text = _text(action)
        terms = list(rule.get("replace", {})) + list(rule.get("forbid", []))
        return text is not None and any(whole_word(x, text) for x in terms)
    if t == "prohibited_topics":
        if not _narrow(rule, action):
            return False
        text = _text(action)
        topics, patterns = rule.get("topics", {}), rule.get("patterns", {})
        if text is not None:
            if any(whole_word(k, text) for kws in topics.values() for k in kws):
                return True
            if any(re2(p).search(text) for ps in patterns.values() for p in ps):
                return True
        labels = _topics(action)
        return any(name in labels for name in list(topics) + list(patterns))
    if t == "disclaimer":
        if not _narrow(rule, action):
            return False
        if "when_topics" in rule and not any(x in _topics(action) for x in rule["when_topics"]):
            return False
        if "when" in rule and not cond(rule["when"], inp):
            return False
        text = _text(action)
        return text is not None and rule["text"] not in text
    if t == "spending_limit":
        if atype not in rule.get("actions", ["spend"]):
            return False
        amount = action.get("amount")
        if not is_num(amount):
            return False
        cur = action.get("currency", rule.get("currency", "USD"))
        if not isinstance(cur, str) or cur.upper() != rule.get("currency", "USD").upper():
            return False
        if rule["period"] == "transaction":
            return amount > rule["max"]
        used = _usage(inp, f"usage.spend.{rule['period']}")
        return used + amount > rule["max"]
    if t == "rate_limit":
        if atype != rule["action"]:
            return False
        used = _usage(inp, f"usage.actions.{rule['action']}.{rule['period']}")
        return used + 1 > rule["max"]
    if t == "api_limit":
        if atype != "api_call":
            return False
        if rule["api"] != "*" and action.get("api") != rule["api"]:
            return False
        apis = get(inp, "usage.apis")
        window = apis.get(rule["api"]) if isinstance(apis, dict) else None
        used = window.get(rule["period"]) if isinstance(window, dict) else None
        return (used if is_num(used) else 0) + 1 > rule["max"]
    if t == "attachment":
        atts = action.get("attachments")
        if not isinstance(atts, list):
            return False
        if "max_count" in rule and len(atts) > rule["max_count"]:
            return True
        for att in atts:
            if not isinstance(att, dict):
                continue
            size = att.get("size_bytes")
            if "max_size_mb" in rule and is_num(size) and size > rule["max_size_mb"] * 1048576:
                return True
            name = att.get("name")
            if isinstance(name, str):
                # as a file system would: trailing dots and spaces are dropped
                name = name.rstrip(". ")
                ext = name.rsplit(".", 1)[1].lower() if "." in name else ""

                def norm(e: str) -> str:  # ambiguity: ".exe" in the list means "exe"
                    return e.lower().lstrip(".")

                if "blocked_extensions" in rule and ext in [
                    norm(e) for e in rule["blocked_extensions"]
                ]:
                    return True
                if "allowed_extensions" in rule and ext not in [
                    norm(e) for e in rule["allowed_extensions"]
                ]:
                    return True
            ct = att.get("content_type")
            if (
                "allowed_content_types" in rule
                and isinstance(ct, str)
                and ct not in rule["allowed_content_types"]
            ):
                return True
        return False
    if t == "retention":
        if atype != "store_data":
            return False
        data = _data(action)
        if not _classes_apply(rule.get("classes"), data):
            return False
        days = data.get("retention_days")
        if not is_num(days):
            return True
        return ("max_days" in rule and days > rule["max_days"]) or (
            "min_days" in rule and days < rule["min_days"]
        )
    if t == "export":
        if atype != "export_data":
            return False
        data = _data(action)
        if not _classes_apply(rule.get("classes"), data):
            return False
        if "allowed_destinations" in rule:
            dest = data.get("destination")
            if not isinstance(dest, str) or not any(
                fnmatch.fnmatchcase(dest, g) for g in rule["allowed_destinations"]
            ):
                return True
        if "allowed_regions" in rule:
            region = data.get("region")
            allowed = rule["allowed_regions"]
            # SPEC names its case-insensitive comparisons; regions are not among them.
            if region not in allowed:
                return True
        if "max_records" in rule:
            rec = data.get("records")
            if not is_num(rec) or rec > rule["max_records"]:
                return True
        return False
    if t == "third_party_sharing":
        if atype not in rule.get("actions", ["share_data"]):
            return False
        rcpt = action.get("recipient")
        domain = None
        if isinstance(rcpt, dict):
            domain = rcpt.get("domain")
            if not isinstance(domain, str):
                addr = rcpt.get("address")
                domain = addr.rsplit("@", 1)[1] if isinstance(addr, str) and "@" in addr else None
        if domain is None:
            return True
        if domain_in(domain, identity["spec"].get("internalDomains", [])):
            return False
        if "allowed_domains" in rule and not domain_in(domain, rule["allowed_domains"]):
            return True
        if "blocked_classes" in rule:
            classes = _data(action).get("classes")
            if not isinstance(classes, list) or any(c in rule["blocked_classes"] for c in classes):
                return True
        return False
    if t == "privacy":
        if not isinstance(action.get("data"), dict):
            return False
        data = _data(action)
        if "require_consent_for" in rule:
            classes = data.get("classes")
            needs = not isinstance(classes, list) or any(
                c in rule["require_consent_for"] for c in classes
            )
            if needs and data.get("consent") is not True:
                return True
        if "allowed_purposes" in rule and data.get("purpose") not in rule["allowed_purposes"]:
            return True
        return False
    if t == "escalation":
        return False
    raise ValueError(t)


def type_key(rule: dict[str, Any]) -> str | None:
    if "key" in rule:
        return rule["key"]  # one namespace: an explicit key may equal a type's key
    t = rule["type"]
    if t in ("tone", "signature", "attachment"):
        return t
    if t == "spending_limit":
        return f"spending_limit:{rule.get('currency', 'USD').upper()}:{rule['period']}"
    if t == "rate_limit":
        return f"rate_limit:{rule['action']}:{rule['period']}"
    if t == "api_limit":
        return f"api_limit:{rule['api']}:{rule['period']}"
    if t == "retention":
        classes = rule.get("classes")
        return "retention:" + (",".join(sorted(set(classes))) if classes is not None else "*")
    return None


# ---------------------------------------------------------------- the decision


def stricter(a: str, b: str) -> str:
    return a if RANK[a] >= RANK[b] else b


def attached_packs(
    docs: dict[str, Any], agent_id: str
) -> tuple[str, dict[str, dict[str, Any]]] | None:
    """(precedence, {pack id: {level, enforcement, identity_level}}) or None when undeclared
    and unknownAgents is block."""
    ident = docs["identity"]["spec"]
    agent = docs["agents"].get(agent_id)
    prec = ident.get("precedence", "identity_overrides")
    if agent is None:
        if ident.get("unknownAgents", "block") == "block":
            return None
        out = {}
        for pid, p in docs["packs"].items():
            if p["spec"].get("scope", "all") == "all":
                out[pid] = {"level": "identity", "enforcement": p["spec"]["enforcement"]}
        if prec == "agent_overrides" and not ident.get("allowAgentOverrides", False):
            prec = "identity_overrides"
        return prec, out
    prec = agent["spec"].get("precedence", prec)
    if prec == "agent_overrides" and not ident.get("allowAgentOverrides", False):
        prec = "identity_overrides"
    attachments = {}
    for a in agent["spec"].get("packs", []):
        attachments[a["pack"] if isinstance(a, dict) else a] = a if isinstance(a, dict) else {}
    out = {}
    for pid, p in docs["packs"].items():
        scope = p["spec"].get("scope", "all")
        idl = scope == "all" or (isinstance(scope, dict) and agent_id in scope.get("agents", []))
        agl = pid in attachments
        if not idl and not agl:
            continue
        pe = p["spec"]["enforcement"]
        ae = attachments[pid].get("enforcement") if agl else None
        if idl and not agl:
            level, enf = "identity", pe
        elif agl and not idl:
            level, enf = "agent", ae or pe
        else:
            level = "both"
            if prec == "identity_overrides" or ae is None:
                enf = pe
            elif prec == "most_restrictive":
                enf = stricter(pe, ae)
            else:
                enf = pe if p["spec"].get("overridable", True) is False else ae
        out[pid] = {"level": level, "enforcement": enf}
    return prec, out


# ---------------------------------------------------------------- the input contract
# SPEC section 4 "The input contract", with the readings docs/input.md records (currency
# `^[A-Za-z]{3}$`, present null is a wrong type, records/retention_days non-negative,
# size_bytes a non-negative whole number, consent a boolean). Written out by hand, not
# read off compiler/input_contract.py, so the differential test compares two readings.

CURRENCY = re.compile(r"[A-Za-z]{3}")
JSON_TYPES = {"string": str, "object": dict, "array": list, "boolean": bool}


def _typed(value: Any, kind: str) -> bool:
    if kind == "number":
        return is_num(value)
    if kind == "boolean":
        return isinstance(value, bool)
    return isinstance(value, JSON_TYPES[kind])


def _shape(value: Any, path: str, kind: str, out: list[str], check: Any = None) -> bool:
    """Whether `value` (present) has JSON type `kind` and passes `check`; else an error."""
    if not _typed(value, kind) or (check is not None and not check(value)):
        out.append(path)
        return False
    return True


def _non_negative(v: Any) -> bool:
    return bool(v >= 0)


def _go_lower(text: str) -> str:
    # Rego's lower() is Go's strings.ToLower: one rune for one rune, no context (Python's
    # str.lower turns U+0130 into two code points and knows the final sigma).
    return "".join(c.lower()[0] if c.lower() else c for c in text)


def _whole(v: Any) -> bool:
    return bool(v >= 0) and (isinstance(v, int) or v.is_integer())


def _fields(obj: dict[str, Any], prefix: str, specs: dict[str, Any], out: list[str]) -> None:
    for name, spec in specs.items():
        if name in obj:
            kind, check = spec if isinstance(spec, tuple) else (spec, None)
            _shape(obj[name], f"{prefix}{name}", kind, out, check)


def _strings(value: Any, path: str, out: list[str]) -> None:
    if _shape(value, path, "array", out):
        for i, item in enumerate(value):
            _shape(item, f"{path}.{i}", "string", out)


def _windows(value: Any, path: str, names: tuple[str, ...], out: list[str]) -> None:
    if _shape(value, path, "object", out):
        _fields(value, f"{path}.", {n: ("number", _non_negative) for n in names}, out)


def contract_errors(inp: Any) -> list[str]:
    """The offending field paths of an input, sorted; [] when it is well formed."""
    if not isinstance(inp, dict):
        return ["input"]
    out: list[str] = []
    if "agent" not in inp:
        out.append("agent")
    else:
        _shape(inp["agent"], "agent", "string", out, lambda v: v != "")
    if "action" not in inp:
        out.append("action")
    elif _shape(inp["action"], "action", "object", out):
        action = inp["action"]
        if "type" not in action:
            out.append("action.type")
        else:
            _shape(action["type"], "action.type", "string", out, lambda v: v != "")
        _fields(action, "action.", {
            "amount": ("number", _non_negative),
            "currency": ("string", lambda v: CURRENCY.fullmatch(v) is not None),
            "api": "string"}, out)
        if action.get("type") in ("spend", "refund") and "amount" not in action:
            out.append("action.amount")
        content = action.get("content", MISSING)
        if content is not MISSING and _shape(content, "action.content", "object", out):
            _fields(content, "action.content.", {"text": "string", "subject": "string",
                                                 "tone": "string"}, out)
            if "topics" in content:
                _strings(content["topics"], "action.content.topics", out)
        rcpt = action.get("recipient", MISSING)
        if rcpt is not MISSING and _shape(rcpt, "action.recipient", "object", out):
            _fields(rcpt, "action.recipient.", {
                "address": ("string", lambda v: v.count("@") == 1), "domain": "string"}, out)
            address, domain = rcpt.get("address"), rcpt.get("domain")
            if (isinstance(address, str) and address.count("@") == 1
                    and isinstance(domain, str)
                    and _go_lower(address.split("@")[1]) != _go_lower(domain)):
                out.append("action.recipient.domain")
        atts = action.get("attachments", MISSING)
        if atts is not MISSING and _shape(atts, "action.attachments", "array", out):
            for i, att in enumerate(atts):
                if _shape(att, f"action.attachments.{i}", "object", out):
                    _fields(att, f"action.attachments.{i}.", {
                        "name": "string", "content_type": "string",
                        "size_bytes": ("number", _whole)}, out)
        data = action.get("data", MISSING)
        if data is not MISSING and _shape(data, "action.data", "object", out):
            _fields(data, "action.data.", {
                "records": ("number", _non_negative),
                "retention_days": ("number", _non_negative),
                "destination": "string", "region": "string", "purpose": "string",
                "consent": "boolean"}, out)
            if "classes" in data:
                _strings(data["classes"], "action.data.classes", out)
    usage = inp.get("usage", MISSING)
    if usage is not MISSING and _shape(usage, "usage", "object", out):
        if "spend" in usage:
            _windows(usage["spend"], "usage.spend", ("hour", "day", "month"), out)
        for part in ("actions", "apis"):
            if part in usage and _shape(usage[part], f"usage.{part}", "object", out):
                for key, counts in usage[part].items():
                    _windows(counts, f"usage.{part}.{key}", ("minute", "hour", "day"), out)
    return sorted(set(out))


def decide(docs: dict[str, Any], inp: dict[str, Any]) -> dict[str, Any]:
    identity = docs["identity"]
    if contract_errors(inp):
        return {
            "decision": "block",
            "allow": False,
            "violations": [{"pack": "_system", "rule": "invalid-input",
                            "type": "invalid_input", "enforcement": "block"}],
            "suppressed": [],
            "approval": None,
            "obligations": [],
        }
    agent_id = inp.get("agent")
    att = attached_packs(docs, agent_id)
    if att is None:
        return {
            "decision": "block",
            "allow": False,
            "violations": [
                {
                    "pack": "_system",
                    "rule": "unknown-agent",
                    "type": "unknown_agent",
                    "enforcement": "block",
                }
            ],
            "suppressed": [],
            "approval": None,
            "obligations": [],
        }
    prec, packs = att
    # conflict groups
    groups: dict[str, list[tuple[str, str]]] = {}
    for pid in packs:
        for r in docs["packs"][pid]["spec"]["rules"]:
            if r["type"] == "escalation":
                continue
            k = type_key(r)
            if k is not None:
                groups.setdefault(k, []).append((pid, r["id"]))
    suppressed: dict[tuple[str, str], dict[str, Any]] = {}
    for members in groups.values():
        if len({p for p, _ in members}) < 2 or prec == "most_restrictive":
            continue
        idl = [m for m in members if packs[m[0]]["level"] in ("identity", "both")]
        agl = [m for m in members if packs[m[0]]["level"] == "agent"]
        if prec == "identity_overrides":
            if idl and agl:
                by = min(idl)
                for m in agl:
                    suppressed[m] = {
                        "pack": m[0],
                        "rule": m[1],
                        "by": f"{by[0]}/{by[1]}",
                        "reason": prec,
                    }
        else:  # agent_overrides
            losers = [m for m in idl if docs["packs"][m[0]]["spec"].get("overridable", True)]
            if agl and losers:
                by = min(agl)
                for m in losers:
                    suppressed[m] = {
                        "pack": m[0],
                        "rule": m[1],
                        "by": f"{by[0]}/{by[1]}",
                        "reason": prec,
                    }
    violations, obligations = [], []
    for pid in sorted(packs):
        p = docs["packs"][pid]
        for r in p["spec"]["rules"]:
            if (pid, r["id"]) in suppressed or not violated(r, inp, identity):
                continue
            violations.append(
                {
                    "pack": pid,
                    "rule": r["id"],
                    "type": r["type"],
                    "category": p["metadata"].get("category"),
                    "enforcement": r.get("enforcement", packs[pid]["enforcement"]),
                    "level": packs[pid]["level"],
                }
            )
            if r["type"] == "signature":
                obligations.append({"type": "append_signature", "text": r["text"]})
    violations.sort(key=lambda v: (-RANK[v["enforcement"]], v["pack"], v["rule"]))
    decision = "allow"
    for v in violations:
        decision = stricter(decision, v["enforcement"])
    approval = None
    if decision == "require_approval":
        approval = route(docs, packs, violations, inp)
    return {
        "decision": decision,
        "allow": decision in ("allow", "warn"),
        "violations": violations,
        "suppressed": sorted(suppressed.values(), key=lambda s: (s["pack"], s["rule"])),
        "approval": approval,
        "obligations": obligations,
    }


def route(
    docs: dict[str, Any],
    packs: dict[str, Any],
    violations: list[dict[str, Any]],
    inp: dict[str, Any],
) -> dict[str, Any]:
    atype = _action(inp).get("type")
    ra = [v for v in violations if v["enforcement"] == "require_approval"]
    best = None
    for pid in sorted(packs):
        for order, r in enumerate(docs["packs"][pid]["spec"]["rules"]):
            if r["type"] != "escalation":
                continue
            m = r.get("match", {})
            if "actions" in m and atype not in m["actions"]:
                continue

            def ok(v: dict[str, Any], m: dict[str, Any] = m) -> bool:
                if "categories" in m and v["category"] not in m["categories"]:
                    return False
                if "packs" in m and v["pack"] not in m["packs"]:
                    return False
                if (
                    "rules" in m
                    and f"{v['pack']}/{v['rule']}" not in m["rules"]
                    and v["rule"] not in m["rules"]
                ):
                    return False
                return True

            if not any(ok(v) for v in ra):
                continue
            sort_key = (-r.get("priority", 0), pid, order)
            if best is None or sort_key < best[0]:
                best = (sort_key, pid, r)
    if best is not None:
        _, pid, r = best
        return {
            "approvers": r.get("approvers", []),
            "timeout_seconds": duration(r.get("timeout", "24h")),
            "fallback": r.get("fallback", "block"),
            "route": f"{pid}/{r['id']}",
        }
    esc = docs["identity"]["spec"].get("escalation", {})
    return {
        "approvers": esc.get("approvers", []),
        "timeout_seconds": duration(esc.get("timeout", "24h")),
        "fallback": esc.get("fallback", "block"),
        "route": "identity",
    }


def index(documents: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {"identity": None, "packs": {}, "agents": {}}
    for d in documents:
        if d["kind"] == "Identity":
            out["identity"] = d
        elif d["kind"] == "PolicyPack":
            out["packs"][d["metadata"]["id"]] = d
        else:
            out["agents"][d["metadata"]["id"]] = d
    return out
