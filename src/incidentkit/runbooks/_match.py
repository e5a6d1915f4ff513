"""Matching an alert to runbooks, in the documented order, with an index.

1. the alert's ``runbook_url`` annotation equal to a runbook's ``url``;
2. an ``alerts`` matcher whose every label the alert has (more labels: more specific);
3. one of the runbook's ``services`` among the alert's services (or ``service`` label);
4. ``symptoms`` keywords found in the alert's text, summary or description
   (whole words, case-insensitive; more keywords: more specific).

A runbook is listed once, under the strongest rule it matched by, with the
reasons of every rule. :class:`RunbookIndex` answers from dictionaries keyed
by url, label pair, service and keyword word; :func:`scan` is the linear scan
it must agree with (the tests and the benchmark compare them).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence

from incidentkit.runbooks._model import Alert, MatchRule, Runbook, RunbookMatch

__all__ = ["RunbookIndex", "scan"]

_WORD = re.compile(r"[a-z0-9_]+")


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def _contains(haystack: Sequence[str], needle: Sequence[str]) -> bool:
    """Whether the word sequence ``needle`` occurs in ``haystack``."""
    size = len(needle)
    if size == 0:
        return False
    if size == 1:
        return needle[0] in haystack
    target = list(needle)
    return any(list(haystack[i : i + size]) == target for i in range(len(haystack) - size + 1))


class _Text:
    """An alert's words with the positions of each, for phrase lookups."""

    def __init__(self, text: str) -> None:
        self.words = _words(text)
        self.positions: dict[str, list[int]] = {}
        for position, word in enumerate(self.words):
            self.positions.setdefault(word, []).append(position)

    def has(self, needle: tuple[str, ...]) -> bool:
        size = len(needle)
        if size == 1:
            return needle[0] in self.positions
        return any(
            tuple(self.words[p : p + size]) == needle for p in self.positions.get(needle[0], ())
        )


def _normal_url(url: str) -> str:
    return url.strip().rstrip("/")


def _collect(
    found: dict[str, dict[MatchRule, tuple[int, list[str]]]],
    runbook: str,
    rule: MatchRule,
    specificity: int,
    reason: str,
) -> None:
    rules = found.setdefault(runbook, {})
    best, reasons = rules.get(rule, (0, []))
    rules[rule] = (max(best, specificity), [*reasons, reason])


def _finish(found: dict[str, dict[MatchRule, tuple[int, list[str]]]]) -> list[RunbookMatch]:
    matches = []
    for runbook, rules in found.items():
        strongest = min(rules)
        reasons = tuple(r for rule in sorted(rules) for r in sorted(rules[rule][1]))
        matches.append(RunbookMatch(runbook, strongest, rules[strongest][0], reasons))
    matches.sort(key=lambda m: m.order)
    return matches


def _url_reason(url: str) -> str:
    return f"runbook_url annotation is {url}"


def scan(runbooks: Iterable[Runbook], alert: Alert) -> list[RunbookMatch]:
    """The matches of ``alert``, by looking at every runbook (the reference behaviour)."""
    found: dict[str, dict[MatchRule, tuple[int, list[str]]]] = {}
    url = alert.annotations.get("runbook_url")
    services = set(alert.all_services)
    words = _words(alert.searchable)
    for runbook in runbooks:
        if url and runbook.url and _normal_url(url) == _normal_url(runbook.url):
            _collect(found, runbook.id, MatchRule.RUNBOOK_URL, 1, _url_reason(runbook.url))
        for matcher in runbook.alerts:
            if matcher.matches(alert.labels):
                reason = f"alert labels match {{{matcher.describe()}}}"
                _collect(found, runbook.id, MatchRule.ALERT, len(matcher.labels), reason)
        for service in sorted(set(runbook.services)):
            if service in services:
                _collect(found, runbook.id, MatchRule.SERVICE, 1, f"service {service}")
        hits = {k for k in runbook.symptoms if _contains(words, _words(k))}
        if hits:
            reason = "symptoms " + ", ".join(repr(k) for k in sorted(hits))
            _collect(found, runbook.id, MatchRule.SYMPTOM, len(hits), reason)
    return _finish(found)


class RunbookIndex:
    """Dictionaries from url, label pair, service and keyword word to runbooks.

    Matching looks up only the alert's own labels, services and words, so its
    cost does not grow with the number of runbooks that cannot match.
    """

    def __init__(self, runbooks: Iterable[Runbook]) -> None:
        self._urls: dict[str, list[Runbook]] = defaultdict(list)
        self._labels: dict[tuple[str, str], list[tuple[Runbook, int]]] = defaultdict(list)
        self._services: dict[str, list[Runbook]] = defaultdict(list)
        self._keywords: dict[str, list[tuple[Runbook, str, tuple[str, ...]]]] = defaultdict(list)
        for runbook in runbooks:
            if runbook.url:
                self._urls[_normal_url(runbook.url)].append(runbook)
            for position, matcher in enumerate(runbook.alerts):
                pair = min(matcher.labels.items())  # any one pair of the matcher finds it
                self._labels[pair].append((runbook, position))
            for service in set(runbook.services):
                self._services[service].append(runbook)
            for keyword in set(runbook.symptoms):
                words = tuple(_words(keyword))
                if words:
                    self._keywords[words[0]].append((runbook, keyword, words))

    def match(self, alert: Alert) -> list[RunbookMatch]:
        """The matches of ``alert``, strongest first (see the module docstring)."""
        found: dict[str, dict[MatchRule, tuple[int, list[str]]]] = {}
        url = alert.annotations.get("runbook_url")
        if url:
            for runbook in self._urls.get(_normal_url(url), ()):
                assert runbook.url is not None
                _collect(found, runbook.id, MatchRule.RUNBOOK_URL, 1, _url_reason(runbook.url))
        for pair in alert.labels.items():
            for runbook, position in self._labels.get(pair, ()):
                matcher = runbook.alerts[position]
                if matcher.matches(alert.labels):
                    reason = f"alert labels match {{{matcher.describe()}}}"
                    _collect(found, runbook.id, MatchRule.ALERT, len(matcher.labels), reason)
        for service in set(alert.all_services):
            for runbook in self._services.get(service, ()):
                _collect(found, runbook.id, MatchRule.SERVICE, 1, f"service {service}")
        text = _Text(alert.searchable)
        hits: dict[str, set[str]] = {}
        for word in text.positions:
            for runbook, keyword, needle in self._keywords.get(word, ()):
                if text.has(needle):
                    hits.setdefault(runbook.id, set()).add(keyword)
        for rid, keywords in hits.items():
            reason = "symptoms " + ", ".join(repr(k) for k in sorted(keywords))
            _collect(found, rid, MatchRule.SYMPTOM, len(keywords), reason)
        return _finish(found)
