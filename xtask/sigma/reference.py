#!/usr/bin/env python3
"""Sigma rules in sketchlake against the reference: pySigma with its DuckDB backend.

Every CloudTrail, Zeek and web-server rule of the SigmaHQ subset in ../shared/data/real
runs over each real log file of those sources, and over events made from each rule's own
detection (below: few rules match real captures), twice:

- in sketchlake (`sketchlake rules backtest --format json --data FOLDER RULES…`, which
  says each rule's matches per file), every rule over every file, so a rule of another
  source must match nothing (its logsource mapping keeps it off the file);
- in DuckDB, the rule converted by pySigma (pysigma-backend-duckdb), over the file's
  events read here, independently of sketchlake, flattened to dotted field names (nested
  objects become `a.b`; an array's elements are its field's values and its objects'
  fields theirs, and a test of a field holds when it holds for one of its values; nulls
  are absent; every value text).

The reference is run as shipped ("pySigma") and corrected ("corrected"), where it is
wrong against the Sigma specification: its `=` (of a value, and of `fieldref`) is
case-sensitive; `_` and `%` in a value are SQL wildcards in its ILIKE patterns; and SQL's
NULL makes `not` of a test on an absent field false. It has no keyword search; keywords are
added to both as ILIKE over the raw record (`_raw`). sketchlake must match exactly the
events the corrected reference matches, per rule and file; where the shipped reference
differs, the rule and one event are printed (docs/decisions/0015-sigma-rules.md).

Usage: reference.py --bin target/debug/sketchlake --real ../shared/data/real \
           --logsources gateway/src/detect/sigma/logsources.yml
(`cargo xtask test` runs it in its own venv.)
"""

import argparse
import gzip
import ipaddress
import json
import os
import re
import subprocess
import sys
import tempfile

import duckdb
import yaml
from sigma.collection import SigmaCollection
from sigma.conditions import ConditionAND
from sigma.processing.conditions import LogsourceCondition
from sigma.processing.pipeline import ProcessingItem, ProcessingPipeline
from sigma.processing.transformations import FieldMappingTransformation
from sigma.rule import SigmaDetectionItem
from sigma.types import (
    SigmaBool, SigmaCIDRExpression, SigmaCompareExpression, SigmaExists, SigmaExpansion,
    SigmaFieldReference, SigmaNull, SigmaNumber, SigmaString, SpecialChars,
)
from sigma_backend_duckdb import DuckDBBackend

RULES = ["aws_cloudtrail", "zeek", "webserver"]

# (folder, file filter): the logs the issue names.
DATA = [
    ("stratus-cloudtrail", lambda f: f.endswith((".json", ".json.gz", ".ndjson.gz"))),
    ("otrf-aws", lambda f: f.endswith(".json.gz")),
    # Panther's fixtures: CloudTrail's file, and CloudTrail records in others' files.
    ("panther-test-events", lambda f: ".ndjson" in f),
    ("zeek-wrccdc", lambda f: "/zeek-json/" in f),
    ("otrf-zeek", lambda f: ".log" in f),
    ("stratosphere-zeek", lambda f: ".log" in f),
    ("apache-access-hackers", lambda f: f.endswith(".log.gz")),
    ("apache-access-elastic", lambda f: f.endswith(".gz")),
]

APACHE = re.compile(
    r'^(\S+) (\S+) (\S+) \[([^\]]+)\] "((?:[^"\\]|\\.)*)" (\d{3}) (\d+|-)'
    r'(?: "((?:[^"\\]|\\.)*)"(?: "((?:[^"\\]|\\.)*)")?)?'
)


def opened(path):
    return gzip.open(path, "rt", errors="replace") if path.endswith(".gz") else open(path, errors="replace")


def text_of(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def flatten(obj, prefix, out):
    for key, value in obj.items():
        name = prefix + key
        if isinstance(value, dict):
            flatten(value, name + ".", out)
        elif isinstance(value, list):
            elements = {}
            spread(value, name, elements)
            out.update(elements)
        elif value is not None:
            out[name] = text_of(value)


def spread(array, name, out):
    """An array's elements under its name, arrays within it flattened, and its objects'
    fields under theirs (`resources.ARN` of every resource): {name: [element text]}."""
    for item in array:
        if isinstance(item, list):
            spread(item, name, out)
        elif isinstance(item, dict):
            for key, value in item.items():
                spread(value if isinstance(value, list) else [value], f"{name}.{key}", out)
        elif item is not None:
            out.setdefault(name, []).append(text_of(item))


def json_source(event):
    """Which source one JSON record is, by the fields its writer always gives it."""
    if all(k in event for k in ("eventSource", "eventName")):
        return ("cloudtrail",)
    log = event.get("_path") or event.get("@stream")
    if log:
        return ("zeek", log)
    if "clientip" in event and "response" in event:
        return ("webserver",)
    return ("unknown",)


def zeek_log_named_by_file(path):
    """The Zeek log a file holds by Zeek's names for its files (`conn.log`, rotated
    `conn.2024-05-01-00-00-00.log`, `.gz`): Zeek's JSON writer names it nowhere else."""
    m = re.fullmatch(r"([a-z0-9_]+)(\.[^/]*)?\.log(\.gz)?", os.path.basename(path))
    return m.group(1) if m else None


def read_events(path):
    """The file's events as flat dicts of text, each with `_raw`, and `_src`, the source
    it is: ("cloudtrail",), ("zeek", log name), ("webserver",) or ("unknown",)."""
    with opened(path) as f:
        text = f.read()
    head = text.lstrip()[:1]
    events = []
    if head in "[{" and head:
        try:
            doc = json.loads(text)
            records = doc.get("Records", [doc]) if isinstance(doc, dict) else doc
            raws = [json.dumps(r) for r in records] if isinstance(doc, list) or "Records" in doc else [text.strip()]
            # One line of NDJSON is a JSON document too.
            log = zeek_log_named_by_file(path) if raws == [text.strip()] else None
        except json.JSONDecodeError:
            lines = [line for line in text.splitlines() if line.strip()]
            records = [json.loads(line) for line in lines]
            raws = lines
            log = zeek_log_named_by_file(path)
        for record, raw in zip(records, raws):
            # A Zeek record (its writer begins each with `ts`) of a log named by its
            # file is that log's; the record as sketchlake reads it names it.
            if log and raw.lstrip().startswith('{"ts":') and '"_path"' not in raw:
                record = {"_path": log, **record}
                raw = '{"_path":"%s",%s' % (log, raw.lstrip()[1:])
            event = {}
            flatten(record, "", event)
            event["_raw"] = raw
            event["_src"] = json_source(event)
            events.append(event)
        return events
    if text.startswith("#separator"):
        sep, unset, empty, path, names = "\t", "-", "(empty)", None, []
        for line in text.splitlines():
            if line.startswith("#"):
                key, _, value = line[1:].partition(sep if not line.startswith("#separator") else " ")
                if key == "unset_field":
                    unset = value
                elif key == "empty_field":
                    empty = value
                elif key == "path":
                    path = value
                elif key == "fields":
                    names = value.split(sep)
                continue
            if not line:
                continue
            event = {}
            for name, cell in zip(names, line.split(sep)):
                if cell == unset:
                    continue
                event[name] = "" if cell == empty else cell
            if path and "_path" not in event:
                event["_path"] = path
            event["_raw"] = line
            event["_src"] = ("zeek", event.get("_path"))
            events.append(event)
        return events
    for line in text.splitlines():
        m = APACHE.match(line)
        if not m:
            continue
        host, ident, auth, time, request, status, size, referrer, agent = m.groups()
        event = {"clientip": host, "ident": ident, "auth": auth, "timestamp": time,
                 "response": status, "bytes": size, "referrer": referrer, "agent": agent}
        parts = request.split(" ")
        if len(parts) == 3 and parts[2].startswith("HTTP/"):
            event["verb"], event["request"] = parts[0], parts[1]
            event["httpversion"] = parts[2][len("HTTP/"):]
            path, q, query = parts[1].partition("?")
            event["url.path"] = path
            if q:
                event["url.query"] = query
        else:
            event["request"] = request
        event = {k: v for k, v in event.items() if v is not None and v != "-"}
        event["_raw"] = line
        event["_src"] = ("webserver",)
        events.append(event)
    return events


def applies(rule, source):
    """Whether the reference runs `rule` over events of `source`."""
    ls = rule.logsource
    low = lambda v: (v or "").lower()
    if source == ("cloudtrail",):
        return low(ls.product) == "aws" and low(ls.service) == "cloudtrail"
    if source[0] == "zeek":
        return low(ls.product) == "zeek" and low(ls.service) == (source[1] or "").lower()
    if source == ("webserver",):
        return low(ls.category) == "webserver"
    return False


class Reference(DuckDBBackend):
    """The shipped backend, with keywords searched in the raw record, over a table whose
    every field is a list: a scalar's one value or an array's elements. A test of a field
    holds when it holds for some element (as Elasticsearch, Splunk and rsigma read
    arrays): it is written for one element, `_e`, and applied to each."""

    in_element = False

    def escape_and_quote_field(self, field_name):
        return "_e" if self.in_element else super().escape_and_quote_field(field_name)

    def convert_condition_field_eq_val(self, cond, state):
        if self.in_element or isinstance(cond.value, (SigmaNull, SigmaExists)):
            # Within an element already (a CIDR's or an expansion's alternatives), or a
            # test of presence, which a NULL list (an absent field) answers.
            return super().convert_condition_field_eq_val(cond, state)
        field = self.escape_and_quote_field(cond.field)
        self.in_element = True
        try:
            test = super().convert_condition_field_eq_val(cond, state)
        finally:
            self.in_element = False
        if isinstance(cond.value, SigmaFieldReference):
            # `_e` is the field's element; the other field's are `_f`.
            other = super().escape_and_quote_field(cond.value.field)
            test = f"list_bool_or(list_transform({other}, lambda _f: {test}))"
        return f"list_bool_or(list_transform({field}, lambda _e: {test}))"

    def convert_condition_field_eq_field_escape_and_quote(self, field1, field2):
        return ("_e", "_f")

    def keyword_pattern(self, value):
        return self.convert_value_str(value, None, no_quote=True)

    def convert_condition_val_str(self, cond, state):
        value = cond.value
        if not value.startswith(SpecialChars.WILDCARD_MULTI):
            value = SpecialChars.WILDCARD_MULTI + value
        if not value.endswith(SpecialChars.WILDCARD_MULTI):
            value = value + SpecialChars.WILDCARD_MULTI
        return self.like('"_raw"', value)

    def like(self, field, value):
        return f"{field} ILIKE '{self.keyword_pattern(value)}'"

    def convert_condition_val_num(self, cond, state):
        return self.like('"_raw"', SigmaString(f"*{cond.value.number}*"))


class Corrected(Reference):
    """The Sigma specification: `=` ignores case; `_`, `%` and `\\` in a value are
    literal (escaped for ILIKE)."""

    add_escaped = "%_\\"
    escape_char = "\\"

    def like(self, field, value):
        return f"{field} ILIKE '{self.keyword_pattern(value)}' ESCAPE '\\'"

    # One field against another: ignoring case, the other's value taken literally.
    field_equals_field_expression = "lower({field1}) = lower({field2})"
    field_equals_field_startswith_expression = "prefix(lower({field1}), lower({field2}))"
    field_equals_field_endswith_expression = "suffix(lower({field1}), lower({field2}))"
    field_equals_field_contains_expression = "contains(lower({field1}), lower({field2}))"

    startswith_expression = "{field} ILIKE '{value}%' ESCAPE '\\'"
    endswith_expression = "{field} ILIKE '%{value}' ESCAPE '\\'"
    contains_expression = "{field} ILIKE '%{value}%' ESCAPE '\\'"
    wildcard_match_expression = "{field} ILIKE '{value}' ESCAPE '\\'"
    wildcard_match_str_expression = "{field} ILIKE '{value}' ESCAPE '\\'"

    def convert_condition_not(self, cond, state):
        # SQL's NULL: `NOT (f = 'x')` is NULL, so false, where `f` is absent. Sigma's
        # `not` of a test an absent field fails holds.
        inner = self.convert_condition(cond.args[0], state)
        return f"NOT coalesce(({inner}), false)"

    def convert_condition_field_eq_val_str(self, cond, state):
        if not cond.value.contains_special():
            return self.wildcard_match_expression.format(
                field=self.escape_and_quote_field(cond.field),
                value=self.convert_value_str(cond.value, state, no_quote=True),
            )
        return super().convert_condition_field_eq_val_str(cond, state)


def pipeline(logsources):
    items = []
    for i, entry in enumerate(logsources):
        if entry.get("fields"):
            items.append(ProcessingItem(
                identifier=f"sketchlake_fields_{i}",
                transformation=FieldMappingTransformation(entry["fields"]),
                rule_conditions=[LogsourceCondition(**entry["logsource"])],
            ))
    return ProcessingPipeline(name="sketchlake field names", priority=20, items=items)


def load_rules(roots):
    rules = []
    for root in roots:
        for folder, _, files in sorted(os.walk(root)):
            for name in sorted(files):
                if not name.endswith((".yml", ".yaml")):
                    continue
                path = os.path.join(folder, name)
                with open(path) as f:
                    text = f.read()
                try:
                    collection = SigmaCollection.from_yaml(text)
                except Exception as e:  # a rule pySigma cannot read is reported
                    rules.append((path, None, str(e)))
                    continue
                for rule in collection.rules:
                    if hasattr(rule, "detection"):
                        rules.append((path, rule, None))
    return rules


def table(con, events):
    # DuckDB's names ignore case: of names alike but for case (CloudTrail's `apiVersion`
    # and `apiversion`), the first keeps its name and the others are set apart.
    seen = {}
    for e in events:
        for k in list(e):
            first = seen.setdefault(k.lower(), k)
            if first != k:
                e[f"{k}__{sum(1 for s in seen if s.startswith(k.lower()))}"] = e.pop(k)
    columns = sorted({k for e in events for k in e if k not in ("_src", "_raw")})
    with tempfile.NamedTemporaryFile("w", suffix=".ndjson", delete=False) as f:
        for n, e in enumerate(events):
            # Every field a list (see `Reference`); `_raw` the record's text.
            row = {k: (v if isinstance(v, list) else [v]) for k, v in e.items() if k not in ("_src", "_raw")}
            f.write(json.dumps({"_n": n, "_raw": e.get("_raw"), **row}) + "\n")
        name = f.name
    spec = ", ".join(f"'{c}': 'VARCHAR[]'" for c in columns)
    con.execute("DROP TABLE IF EXISTS logs")
    con.execute(
        f"CREATE TABLE logs AS SELECT * FROM read_json('{name}', format='newline_delimited', "
        f"columns={{'_n': 'BIGINT', '_raw': 'VARCHAR', {spec}}})"
    )
    os.unlink(name)


def matching(con, queries):
    """The `_n` of the events any of `queries` (full SELECTs) matches; columns the table
    lacks are added, empty (an absent field)."""
    union = " UNION ".join(f"SELECT _n FROM ({q})" for q in queries)
    for _ in range(64):
        try:
            return {row[0] for row in con.execute(union).fetchall()}
        except duckdb.BinderException as e:
            m = re.search(r'Referenced column "([^"]+)" not found', str(e))
            if not m:
                raise
            con.execute(f'ALTER TABLE logs ADD COLUMN "{m.group(1)}" VARCHAR[]')
    raise RuntimeError("too many missing columns")


def sketchlake(binary, folder, rule_roots):
    """{file: {(rule file, id): rule's answer with `matches` in that file}}, and the rules."""
    out = subprocess.run(
        [binary, "rules", "backtest", "--format", "json", "--data", folder, *rule_roots],
        capture_output=True, text=True, env={**os.environ, "RUST_LOG": "warn"},
    )
    if out.returncode != 0:
        raise RuntimeError(f"backtest over {folder} failed: {out.stderr[-2000:]}")
    rules = json.loads(out.stdout)["rules"]
    per_file = {}
    for rule in rules:
        for name, n in rule["files"].items():
            per_file.setdefault(os.path.join(folder, name), {})[(rule["file"], rule["id"])] = n
    return per_file, {(r["file"], r["id"]): r for r in rules}


# --- Synthetic events: every rule made to match, and nearly ---------------------------
#
# Few rules match the real logs, so each rule also runs over events made from its own
# detection: per named detection, an event meeting it (each of its values, wildcards
# filled in), the same with every letter's case swapped, and near misses (one value
# changed). Both engines answer over them as over the real logs.

def filled(value):
    """Text a Sigma value matches, or None when none is made (a regular expression)."""
    if isinstance(value, SigmaExpansion):
        return filled(value.values[0]) if value.values else None
    if isinstance(value, SigmaString):
        out = []
        for part in value.s:
            if isinstance(part, str):
                out.append(part)
            elif part == SpecialChars.WILDCARD_MULTI:
                out.append("Zz")
            elif part == SpecialChars.WILDCARD_SINGLE:
                out.append("Q")
        return "".join(out)
    if isinstance(value, SigmaNumber):
        return str(value.number)
    if isinstance(value, SigmaBool):
        return "true" if value.boolean else "false"
    if isinstance(value, SigmaCIDRExpression):
        net = ipaddress.ip_network(value.cidr, strict=False)
        return str(net.network_address + (1 if net.num_addresses > 1 else 0))
    if isinstance(value, SigmaCompareExpression):
        n = value.number.number
        op = value.op
        delta = {op.GT: 1, op.GTE: 0, op.LT: -1, op.LTE: 0}.get(op, 0)
        return str(n + delta)
    return None


def alternatives(detection, limit=8):
    """The events' fields (dicts; None for a field to leave out) that meet `detection`."""
    if isinstance(detection, SigmaDetectionItem):
        item = detection
        field = item.field or "message"
        values = item.value
        if not values:
            return []
        if any(isinstance(v, SigmaNull) for v in values):
            return [{field: None}]
        if any(isinstance(v, SigmaExists) for v in values):
            return [{field: "present" if values[0].exists else None}]
        if any(isinstance(v, SigmaFieldReference) for v in values):
            other = values[0].field
            return [{field: "RefVal", other: "refval"}]
        texts = [filled(v) for v in values]
        if any(t is None for t in texts):
            return []
        if item.value_linking is ConditionAND and len(texts) > 1:
            return [{field: "Zz".join(texts)}]
        return [{field: t} for t in texts[:limit]]
    items = detection.detection_items
    if detection.item_linking is ConditionAND:
        combos = [{}]
        for item in items:
            options = alternatives(item, limit)
            if not options:
                return []
            combos = [{**c, **o} for c in combos for o in options[:2]][:limit]
        return combos
    out = []
    for item in items:
        out.extend(alternatives(item, limit))
    return out[:limit]


def swapped(event):
    return {k: (v.swapcase() if isinstance(v, str) else v) for k, v in event.items()}


def near_miss(value):
    """A value like `value` that a test of it should fail: an address outside the private
    and documentation networks rules name, a number one off, else the last letter changed."""
    try:
        address = ipaddress.ip_address(value)
        return "198.18.0.77" if address.version == 4 else "2001:4860::77"
    except ValueError:
        pass
    if value[-1].isdigit():
        return value[:-1] + str((int(value[-1]) + 1) % 10)
    return value[:-1] + ("x" if value[-1] != "x" else "y")


def near_misses(event):
    for k, v in event.items():
        if isinstance(v, str) and v:
            yield {**event, k: near_miss(v)}
            # What SQL's `_` and `%` would take for themselves.
            if "_" in v or "%" in v:
                yield {**event, k: v.replace("_", "X").replace("%", "XY")}


def exemplar_events(rules, logsources):
    """{source name: [events]}: CloudTrail, Zeek and web-server events made from `rules`."""
    out = {"cloudtrail": [], "zeek": [], "webserver": []}
    fields_of = {}
    for entry in logsources:
        fields_of[tuple(sorted(entry["logsource"].items()))] = entry.get("fields", {})
    for rule_file, rule, _ in rules:
        if rule is None:
            continue
        ls = rule.logsource
        low = lambda v: (v or "").lower()
        if low(ls.product) == "aws" and low(ls.service) == "cloudtrail":
            kind, base, mapping = "cloudtrail", {"eventSource": "exemplar.amazonaws.com", "eventName": "Exemplar"}, {}
        elif low(ls.product) == "zeek" and ls.service:
            kind, base, mapping = "zeek", {"_path": ls.service, "ts": 1700000000, "uid": "Cexemplar"}, {}
        elif low(ls.category) == "webserver":
            kind, base = "webserver", {"clientip": "192.0.2.1", "response": "200"}
            mapping = fields_of.get((("category", "webserver"),), {})
        else:
            continue
        for name, detection in rule.detection.detections.items():
            for fields in alternatives(detection):
                event = dict(base)
                for k, v in fields.items():
                    k = mapping.get(k, k)
                    if v is None:
                        event.pop(k, None)
                    else:
                        event[k] = v
                events = [event, swapped(event), *near_misses(event)]
                for e in events:
                    # Logsource fields stay as the source writes them.
                    for k, v in base.items():
                        if k not in fields:
                            e[k] = v
                    out[kind].append(e)
    return out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", required=True)
    parser.add_argument("--real", required=True)
    parser.add_argument("--logsources", required=True)
    args = parser.parse_args()
    # One spelling of every path: sketchlake names files by the real path.
    args.real = os.path.realpath(args.real)

    with open(args.logsources) as f:
        logsources = yaml.safe_load(f)
    roots = [os.path.join(args.real, "sigma/rules-subset", r) for r in RULES]
    mismatches_elsewhere = []
    rules = load_rules(roots)
    shipped = Reference(processing_pipeline=pipeline(logsources))
    corrected = Corrected(processing_pipeline=pipeline(logsources))

    # The synthetic events, one file per source.
    made = tempfile.mkdtemp(prefix="sigma-exemplars-")
    synthetic = 0
    for kind, events in exemplar_events(rules, logsources).items():
        synthetic += len(events)
        with open(os.path.join(made, f"{kind}.ndjson"), "w") as f:
            f.writelines(json.dumps(e) + "\n" for e in events)
        if kind != "zeek":
            continue
        # The Zeek events again as Zeek's JSON writer logs them: `ts` first, no `_path`,
        # in a file named by their log (`http.log`).
        by_log = {}
        for e in events:
            if e.get("_path"):
                rest = {k: v for k, v in e.items() if k not in ("_path", "ts")}
                by_log.setdefault(e["_path"], []).append({"ts": e.get("ts", 1700000000), **rest})
        for log, logged in by_log.items():
            synthetic += len(logged)
            with open(os.path.join(made, f"{log}.log"), "w") as f:
                f.writelines(json.dumps(e, separators=(",", ":")) + "\n" for e in logged)
    folders = [(os.path.join(args.real, folder), keep) for folder, keep in DATA]
    folders.append((made, lambda f: f.endswith((".ndjson", ".log"))))

    files = []
    matched, answered = {}, {}
    for folder, keep in folders:
        per_file, rules_answered = sketchlake(args.bin, folder, roots)
        matched.update(per_file)
        answered.update(rules_answered)
        for base, _, names in sorted(os.walk(folder)):
            for name in sorted(names):
                path = os.path.join(base, name)
                if keep(path) and not name.lower().endswith((".md", ".txt", "license")):
                    files.append(path)
        # Files of other sources (panther's other logs, otrf's CSV) match no rule.
        for path, rules_matched in per_file.items():
            if not keep(path):
                for key, n in rules_matched.items():
                    print(f"MISMATCH {key[0]} matched {n} events of {path}, not a source it reads")
                    mismatches_elsewhere.append(key)

    con = duckdb.connect()
    compared = wrong = events_total = 0
    mismatches = len(mismatches_elsewhere)
    refused_ref = {}
    rules_matching = set()
    for path in files:
        events = read_events(path)
        sources = {e["_src"] for e in events} - {("unknown",)}
        if not sources:
            print(f"skipped (no events of a mapped source): {path}")
            continue
        events_total += len(events)
        table(con, events)
        for rule_file, rule, error in rules:
            if rule is None:
                refused_ref.setdefault(rule_file, error)
                continue
            key = (rule_file, str(rule.id) if rule.id else None)
            mine = answered.get(key)
            if mine is None:
                print(f"MISSING in sketchlake's answer: {key}")
                mismatches += 1
                continue
            if mine["refused"]:
                continue
            ours = matched.get(path, {}).get(key, 0)
            seen = {s for s in sources if applies(rule, s)}
            if not seen:
                if ours != 0:
                    print(f"MISMATCH {rule_file} over {path}: a rule of another source matched {ours}")
                    mismatches += 1
                continue
            try:
                # The events of the sources the rule reads.
                good = {n for n in matching(con, corrected.convert_rule(rule)) if events[n]["_src"] in seen}
                raw = {n for n in matching(con, shipped.convert_rule(rule)) if events[n]["_src"] in seen}
            except Exception as e:  # what the reference cannot run is reported
                refused_ref.setdefault(rule_file, f"{type(e).__name__}: {e}")
                continue
            compared += 1
            if good:
                rules_matching.add(rule_file)
            if ours != len(good):
                mismatches += 1
                print(f"MISMATCH {rule_file} over {path}: sketchlake {ours}, reference {len(good)}")
                if path.startswith(made):
                    # Which events differ is found by each rule's events alone.
                    print(f"  the reference's: {sorted(good)[:10]}")
            if raw != good:
                wrong += 1
                n = next(iter(raw ^ good))
                where = "the synthetic events" if path.startswith(made) else os.path.relpath(path, args.real)
                print(f"REFERENCE WRONG {os.path.basename(rule_file)} over {where}: "
                      f"shipped {len(raw)}, corrected {len(good)}; e.g. event {n}: {events[n]['_raw'][:300]}")
    for rule_file, error in sorted(refused_ref.items()):
        print(f"reference cannot run {os.path.relpath(rule_file, args.real)}: {error[:200]}")
        # A rule sketchlake runs must be checked.
        mismatches += 1
    print(f"\n{len(files)} files ({synthetic} synthetic events among them), {events_total} events, {len(rules)} rules: {compared} (rule, file) pairs "
          f"compared, {len(rules_matching)} rules matching somewhere; {mismatches} mismatches; "
          f"the shipped reference wrong in {wrong}; {len(refused_ref)} rules the reference cannot run")
    sys.exit(1 if mismatches else 0)


if __name__ == "__main__":
    main()
