"""One pure implementation of AWS's policy-evaluation logic: the emulator, the audit and the tests all decide with it.

Sources, followed in this order where they are silent or disagree:
- https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html (and its
  "cross-account", "within a single account" and "policy-eval-denyallow" sections),
- https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html,
- https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html,
- the behaviour of `@cloud-copilot/iam-simulate` (the independent oracle the conformance corpus is checked against)
  for details the documentation leaves open: ARN wildcards match per ARN component (a `*` in the resource part may
  span `:`; in partition/service/region/account it may not), a single-valued operator on a multi-valued key is
  false (no exception), unknown operators never match, a policy variable that cannot be resolved never matches.

One deliberate difference from iam-simulate (0.1.173), following the documentation: a same-account resource-based
policy that names the role *session* ARN (or a user ARN) directly is not limited by the session policy
(https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies.html#policies_session), exactly as it is not
limited by an implicit deny of the permissions boundary (which iam-simulate does implement).

Nothing here imports boto3 or moto: a decision is a function of the request and the policy documents.
"""

from __future__ import annotations

import functools
import ipaddress
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

Document = Mapping[str, Any]
ContextValue = str | bool | int | list[str]
_Value = str | list[str]  # a context value once normalised: single-valued or multi-valued

# --- the request ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Principal:
    arn: str
    account: str = ""
    session_arn: str | None = None
    service: str | None = None
    federated: str | None = None

    @staticmethod
    def from_arn(arn: str) -> Principal:
        """A principal from an identity ARN; an STS assumed-role ARN becomes the session of its role."""
        parts = arn.split(":")
        account = parts[4] if len(parts) > 4 else ""
        m = re.fullmatch(r"arn:([^:]+):sts::(\d{12}):assumed-role/([^/]+)/(.+)", arn)
        if m:
            return Principal(f"arn:{m[1]}:iam::{m[2]}:role/{m[3]}", m[2], session_arn=arn)
        return Principal(arn, account)

    @property
    def value(self) -> str:
        """What a resource policy's Principal element is matched against (iam-simulate's request principal)."""
        return self.service or self.federated or self.session_arn or self.arn

    @property
    def account_id(self) -> str:
        if self.account:
            return self.account
        parts = self.value.split(":")
        return parts[4] if len(parts) > 5 and parts[0] == "arn" else ""


@dataclass(frozen=True)
class Request:
    action: str
    resource: str = "*"
    principal_arn: str = "arn:aws:iam::111122223333:role/team-ci"
    context: Mapping[str, ContextValue] = field(default_factory=dict)
    principal: Principal | None = None
    # False (what-if questions, iam-simulate's reading): a `*` in the resource stands for "some resource", which a
    # specific Allow covers in part. True (a real call, the emulator): the resource is the literal string AWS
    # authorizes, so an action without resource types ("*") or a resource not created yet ("instance/*") is
    # matched only by patterns that match that string.
    literal_resource: bool = False

    def who(self) -> Principal:
        return self.principal if self.principal is not None else Principal.from_arn(self.principal_arn)

    def keys(self) -> dict[str, _Value]:
        """The request context as conditions see it: names lower-cased, values as strings or lists of strings.

        aws:PrincipalArn (the role ARN for a role session) and aws:PrincipalAccount are added when the caller did not
        set them, as AWS always sets them for an authenticated IAM principal.
        """
        out: dict[str, _Value] = {k.lower(): _normalise(v) for k, v in self.context.items()}
        who = self.who()
        if who.service is None and who.federated is None:
            if who.arn:
                out.setdefault("aws:principalarn", who.arn)
            if who.account_id:
                out.setdefault("aws:principalaccount", who.account_id)
        return out


def _normalise(value: ContextValue) -> _Value:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    return [_policy_string(v) for v in value]


def _policy_string(value: Any) -> str:
    # JSON policy values may be booleans or numbers; IAM compares their string forms.
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


# --- policy variables and wildcards --------------------------------------------------------------------------

_TOKEN = re.compile(r"\$\{([^}]*)\}|[*?]")


def _variable(name: str, keys: Mapping[str, _Value]) -> str | None:
    """The value of `${name}` / `${name, 'default'}`; None when it cannot be resolved (the comparison then fails)."""
    parts = name.split(", ")
    default = None
    if len(parts) == 2 and parts[1].startswith("'") and parts[1].endswith("'") and len(parts[1]) >= 2:
        default = parts[1][1:-1]
    literal = {"*": "*", "?": "?", "$": "$"}
    if name in literal:
        return literal[name]
    value = keys.get(parts[0].strip().lower())
    if isinstance(value, str) and value:
        return value
    if default:
        return default
    if value is None or isinstance(value, list):
        # https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html#policy-vars-no-value
        return None
    return "${" + name + "}"  # present but empty and no default: iam-simulate leaves the text as written


def _resolve(template: str, keys: Mapping[str, _Value]) -> str | None:
    """`template` with its policy variables replaced (wildcards kept literally); None if a variable is unresolvable."""
    out: list[str] = []
    last = 0
    for m in _TOKEN.finditer(template):
        out.append(template[last : m.start()])
        if m.group(1) is None:
            out.append(m.group(0))
        else:
            value = _variable(m.group(1), keys)
            if value is None:
                return None
            out.append(value)
        last = m.end()
    out.append(template[last:])
    return "".join(out)


def _pattern(template: str, keys: Mapping[str, _Value], flags: int = 0) -> re.Pattern[str] | None:
    """A wildcard pattern (`*` any run, `?` one character), variables substituted literally; None if unresolvable."""
    if "${" not in template:
        return _fixed_pattern(template, flags)  # no variable: the same pattern whatever the request
    return _build_pattern(template, keys, flags)


@functools.lru_cache(maxsize=65536)
def _fixed_pattern(template: str, flags: int) -> re.Pattern[str] | None:
    return _build_pattern(template, {}, flags)


def _build_pattern(template: str, keys: Mapping[str, _Value], flags: int) -> re.Pattern[str] | None:
    out: list[str] = []
    last = 0
    for m in _TOKEN.finditer(template):
        out.append(re.escape(template[last : m.start()]))
        wildcard = m.group(0)
        if wildcard == "*":
            out.append(".*")
        elif wildcard == "?":
            out.append(".")
        else:
            value = _variable(m.group(1), keys)
            if value is None:
                return None
            out.append(re.escape(value))
        last = m.end()
    out.append(re.escape(template[last:]))
    return re.compile("".join(out), flags | re.DOTALL)


def _like(value: str, template: str, keys: Mapping[str, _Value], flags: int = 0) -> bool:
    pattern = _pattern(template, keys, flags)
    return pattern is not None and pattern.fullmatch(value) is not None


# --- condition operators -------------------------------------------------------------------------------------
# Each takes the request value and the policy values and answers for one request value. Negated operators answer
# "matches none of the policy values"; a policy value that cannot be parsed or resolved counts as not satisfied,
# which makes both a positive and a negated operator false (as iam-simulate does).

_Op = Any  # Callable[[str, list[str], Mapping[str, _Value]], bool]


def _string_equals(v: str, ps: list[str], keys: Mapping[str, _Value]) -> bool:
    return any(_resolve(p, keys) == v for p in ps)


def _string_not_equals(v: str, ps: list[str], keys: Mapping[str, _Value]) -> bool:
    return all((r := _resolve(p, keys)) is not None and r != v for p in ps)


def _string_equals_ic(v: str, ps: list[str], keys: Mapping[str, _Value]) -> bool:
    return any((r := _resolve(p, keys)) is not None and r.lower() == v.lower() for p in ps)


def _string_not_equals_ic(v: str, ps: list[str], keys: Mapping[str, _Value]) -> bool:
    return all((r := _resolve(p, keys)) is not None and r.lower() != v.lower() for p in ps)


def _string_like(v: str, ps: list[str], keys: Mapping[str, _Value]) -> bool:
    return any(_like(v, p, keys) for p in ps)


def _string_not_like(v: str, ps: list[str], keys: Mapping[str, _Value]) -> bool:
    return all((pat := _pattern(p, keys)) is not None and pat.fullmatch(v) is None for p in ps)


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _date(text: str) -> float | None:
    if re.fullmatch(r"-?\d+", text):
        return float(text) * 1000  # epoch seconds, compared in milliseconds like ISO dates below
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp() * 1000


def _compare(parse: Any, test: Any, negated: bool = False) -> _Op:
    def op(v: str, ps: list[str], keys: Mapping[str, _Value]) -> bool:
        del keys  # numeric and date operators take no policy variables
        request = parse(v)
        results = [(p := parse(x)) is not None and request is not None and test(request, p) for x in ps]
        return all(results) if negated else any(results)

    return op


def _bool(v: str, ps: list[str], keys: Mapping[str, _Value]) -> bool:
    if v.lower() not in ("true", "false"):
        return False
    return any(
        (r := _resolve(p, keys)) is not None and r.lower() in ("true", "false") and r.lower() == v.lower() for p in ps
    )


def _binary_equals(v: str, ps: list[str], keys: Mapping[str, _Value]) -> bool:
    return v in ps


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _ip_check(v: str, p: str, expect_inside: bool) -> bool:
    """One policy value of IpAddress (expect_inside) or NotIpAddress, as iam-simulate decides it."""
    address = _ip(v)
    if "/" not in p:
        single = _ip(p)
        if single is None or address is None or address.version != single.version:
            return False
        return (address == single) == expect_inside
    try:
        network = ipaddress.ip_network(p, strict=False)
    except ValueError:
        return False
    if address is None:
        return False
    if address.version != network.version:
        return not expect_inside  # an address of the other family is outside the block
    return (address in network) == expect_inside


def _ip_address(v: str, ps: list[str], keys: Mapping[str, _Value]) -> bool:
    return any(_ip_check(v, p, True) for p in ps)


def _not_ip_address(v: str, ps: list[str], keys: Mapping[str, _Value]) -> bool:
    return all(_ip_check(v, p, False) for p in ps)


def _arn_parts(arn: str) -> list[str] | None:
    parts = arn.split(":")
    if len(parts) < 5 or parts[0] != "arn":
        return None
    return [*parts[1:5], ":".join(parts[5:])]


def _arn_like_one(v: str, p: str, keys: Mapping[str, _Value]) -> bool | None:
    """ARN matching per component: wildcards never cross the colons between partition/service/region/account."""
    policy, request = _arn_parts(p), _arn_parts(v)
    if policy is None or request is None:
        return None
    results = [_pattern(pp, keys) for pp in policy]
    if any(r is None for r in results):
        return None
    return all(r is not None and r.fullmatch(rp) is not None for r, rp in zip(results, request, strict=True))


def _arn_like(v: str, ps: list[str], keys: Mapping[str, _Value]) -> bool:
    return any(_arn_like_one(v, p, keys) is True for p in ps)


def _arn_not_like(v: str, ps: list[str], keys: Mapping[str, _Value]) -> bool:
    return all(_arn_like_one(v, p, keys) is False for p in ps)


_OPERATORS: dict[str, _Op] = {
    "stringequals": _string_equals,
    "stringnotequals": _string_not_equals,
    "stringequalsignorecase": _string_equals_ic,
    "stringnotequalsignorecase": _string_not_equals_ic,
    "stringlike": _string_like,
    "stringnotlike": _string_not_like,
    "numericequals": _compare(_number, lambda r, p: r == p),
    "numericnotequals": _compare(_number, lambda r, p: r != p, negated=True),
    "numericlessthan": _compare(_number, lambda r, p: r < p),
    "numericlessthanequals": _compare(_number, lambda r, p: r <= p),
    "numericgreaterthan": _compare(_number, lambda r, p: r > p),
    "numericgreaterthanequals": _compare(_number, lambda r, p: r >= p),
    "dateequals": _compare(_date, lambda r, p: r == p),
    "datenotequals": _compare(_date, lambda r, p: r != p, negated=True),
    "datelessthan": _compare(_date, lambda r, p: r < p),
    "datelessthanequals": _compare(_date, lambda r, p: r <= p),
    "dategreaterthan": _compare(_date, lambda r, p: r > p),
    "dategreaterthanequals": _compare(_date, lambda r, p: r >= p),
    "bool": _bool,
    "binaryequals": _binary_equals,
    "ipaddress": _ip_address,
    "notipaddress": _not_ip_address,
    "arnequals": _arn_like,
    "arnlike": _arn_like,
    "arnnotequals": _arn_not_like,
    "arnnotlike": _arn_not_like,
}


def _parse_operator(operator: str) -> tuple[str, str, bool]:
    """(set qualifier lower-cased or "", base operator lower-cased, IfExists)."""
    qualifier, _, base = operator.rpartition(":")
    if_exists = base.lower().endswith("ifexists")
    if if_exists:
        base = base[: -len("IfExists")]
    return qualifier.lower(), base.lower(), if_exists


def operator_known(operator: str) -> bool:
    """Whether `operator` (e.g. "ForAnyValue:StringLikeIfExists") is one IAM defines; others never match."""
    qualifier, base, _ = _parse_operator(operator)
    return qualifier in ("", "foranyvalue", "forallvalues") and (base in _OPERATORS or base == "null")


def _operator_true(operator: str, key: str, expected: Any, keys: Mapping[str, _Value]) -> bool:
    qualifier, base, if_exists = _parse_operator(operator)
    policy_values = [_policy_string(v) for v in _list(expected)]
    value = keys.get(key.lower())
    if base == "null":
        goal = "false" if value is not None else "true"
        return any(p.lower() == goal for p in policy_values)
    op = _OPERATORS.get(base)
    if qualifier:
        if qualifier not in ("foranyvalue", "forallvalues"):
            return False
        if value is None:
            # https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-single-vs-multi-valued-context-keys.html
            return qualifier == "forallvalues"
        if op is None:
            return False
        values = value if isinstance(value, list) else [value]
        results = (op(v, policy_values, keys) for v in values)
        return all(results) if qualifier == "forallvalues" else any(results)
    if value is None:
        # A missing key makes IfExists and negated operators true, every other operator false.
        return if_exists or "not" in base
    if isinstance(value, list) or op is None:
        # A single-valued operator on a multi-valued key does not match (iam-simulate; AWS requires a qualifier).
        return False
    return bool(op(value, policy_values, keys))


def conditions_true(condition: Mapping[str, Mapping[str, Any]], request: Request) -> bool:
    keys = request.keys()
    return all(
        _operator_true(op, key, expected, keys) for op, block in condition.items() for key, expected in block.items()
    )


# --- Action, Resource, Principal -----------------------------------------------------------------------------


# Pure functions of their strings, called millions of times over the same few policies (a property test, the oracle
# corpus, an emulator run): cached, the compiled name patterns too.
@functools.lru_cache(maxsize=65536)
def _action_matches(pattern: str, action: str) -> bool:
    if pattern == "*":
        return True
    service, sep, name = pattern.partition(":")
    want_service, _, want_name = action.partition(":")
    if not sep or not name or service.lower() != want_service.lower():
        return False
    regex = _action_name_pattern(name)
    return regex is not None and regex.fullmatch(want_name) is not None


@functools.lru_cache(maxsize=16384)
def _action_name_pattern(name: str) -> re.Pattern[str] | None:
    if re.search(r"\s", name):
        return None
    # Wildcards stay inside the action name: "s3:*" never matches "s3control:..." and "*" never crosses a colon.
    return re.compile(re.escape(name).replace(r"\*", ".*").replace(r"\?", "."), re.IGNORECASE)


@functools.lru_cache(maxsize=65536)
def _any_action(patterns: tuple[str, ...], action: str) -> bool:
    return any(_action_matches(p, action) for p in patterns)


def _actions_match(statement: Mapping[str, Any], action: str) -> bool:
    if "Action" in statement:
        return _any_action(tuple(str(a) for a in _list(statement["Action"])), action)
    if "NotAction" in statement:
        return not _any_action(tuple(str(a) for a in _list(statement["NotAction"])), action)
    return False


# How each policy type treats a short ARN (fewer than six components), as iam-simulate does.
_SHORT_ARN = {
    "identity": ("expand", "expand"),
    "resource": ("nomatch", "expand"),
    "scp": ("reject", "expand"),
    "rcp": ("reject", "reject"),
}


def _segment(policy: str, request: str) -> bool:
    # Partition, service, region and account compare case-insensitively; wildcards stay in their component.
    regex = re.escape(policy).replace(r"\*", ".*").replace(r"\?", ".")
    return re.fullmatch(regex, request, re.IGNORECASE) is not None


def _product(service: str, region: str, account: str, resource: str) -> str:
    """The resource-type prefix of an ARN's resource part ("instance/", "role/"), which must match literally."""
    if service == "s3" and not account and not region:
        return ""
    cut = [i for i in (resource.find("/"), resource.find(":")) if i != -1]
    return resource[: min(cut) + 1] if cut else ""


def _overlap(policy: str, request: str) -> str:
    """How a policy pattern relates to a request pattern (a request resource holding `*`)."""
    if policy == request:
        return "equal"
    if re.fullmatch(re.escape(request).replace(r"\*", ".*"), policy):
        return "policy_is_subset"
    if re.fullmatch(re.escape(policy).replace(r"\*", ".*").replace(r"\?", "."), request):
        return "policy_is_superset"
    return "overlap" if _intersect(policy, request) else "none"


def _intersect(policy: str, request: str) -> bool:
    seen: set[tuple[int, int]] = set()
    todo = [(0, 0)]
    while todo:
        i, j = todo.pop()
        if (i, j) in seen:
            continue
        seen.add((i, j))
        if i == len(policy) and j == len(request):
            return True
        p = policy[i] if i < len(policy) else None
        r = request[j] if j < len(request) else None
        if p == "*":
            todo.append((i + 1, j))
        if r == "*":
            todo.append((i, j + 1))
        if p is not None and r is not None and (p in "*?" or r == "*" or p == r):
            todo.append((i if p == "*" else i + 1, j if r == "*" else j + 1))
    return False


def _resource_one(
    pattern: str,
    resource: str,
    keys: Mapping[str, _Value],
    effect: str,
    negated: bool,
    kind: str,
    literal: bool = False,
) -> tuple[bool, bool]:
    """(matches, a mismatch proves the resource is outside the pattern) for one Resource/NotResource entry."""
    if pattern == "*" or (pattern and set(pattern) == {"*"}):
        return True, True
    if not pattern.startswith("arn:"):
        return False, False
    parts = pattern.split(":")
    if len(parts) < 6:
        without, with_wildcard = _SHORT_ARN[kind]
        wildcard = parts[-1].endswith("*") if without == "reject" else "*" in pattern
        behaviour = with_wildcard if wildcard else without
        if behaviour == "reject":
            return False, False
        if behaviour == "nomatch":
            return False, True
        matched, _ = _resource_one(
            ":".join(parts + ["*"] * (6 - len(parts))), resource, keys, effect, negated, kind, literal
        )
        return matched, False
    if resource == "*" and not literal:
        # A request for all resources: a specific Allow covers part of it, a specific Deny does not cover all of it.
        if effect == "Allow":
            return not negated, True
        return negated, True
    policy = [*parts[1:5], ":".join(parts[5:])]
    req_parts = resource.split(":")
    if len(req_parts) < 6:
        return False, False
    request = [*req_parts[1:5], ":".join(req_parts[5:])]
    if "*" in resource and not literal:
        # Read as the literal path reads: partition, service, region and account without case, variables resolved.
        resolved = _resolve(policy[4], keys)
        if resolved is None:
            return False, False
        policy_read = [*(p.lower() for p in policy[:4]), resolved]
        request_read = [*(r.lower() for r in request[:4]), request[4]]
        overlaps = [_overlap(p, r) for p, r in zip(policy_read, request_read, strict=True)]
        if not negated and effect == "Allow":
            if "none" not in overlaps:
                return True, True
        elif not negated:
            if any(o in ("none", "policy_is_subset") for o in overlaps):
                return False, True
        elif effect == "Allow":
            return all(o in ("equal", "policy_is_superset") for o in overlaps), True
        else:
            return "none" not in overlaps, True
    if not all(_segment(p, r) for p, r in zip(policy[:4], request[:4], strict=True)):
        return False, True
    product = _product(policy[1], policy[2], policy[3], policy[4])
    if not request[4].startswith(product):
        return False, True
    compiled = _pattern(policy[4][len(product) :], keys)
    if compiled is None:
        return False, False
    return compiled.fullmatch(request[4][len(product) :]) is not None, True


def _resources_match(statement: Mapping[str, Any], request: Request, keys: Mapping[str, _Value], kind: str) -> bool:
    effect = str(statement.get("Effect", ""))
    if "Resource" in statement:
        return any(
            _resource_one(str(p), request.resource, keys, effect, False, kind, request.literal_resource)[0]
            for p in _list(statement["Resource"])
        )
    if "NotResource" in statement:
        for p in _list(statement["NotResource"]):
            literal = request.literal_resource
            matched, invertible = _resource_one(str(p), request.resource, keys, effect, True, kind, literal)
            if matched or not invertible:
                return False
        return True
    return True  # trust policies have no Resource element


# Principal match strengths, strongest first (iam-simulate's order).
_DIRECT = ("Match", "SessionUserMatch", "SessionRoleMatch")


def _principal_one(kind: str, value: str, who: Principal) -> str:
    if kind == "AWS" and value and set(value) == {"*"}:
        return "Match"
    if kind == "Service":
        return "Match" if who.service is not None and value == who.service else "NoMatch"
    if kind == "Federated":
        return "Match" if who.federated is not None and value == who.federated else "NoMatch"
    if kind != "AWS" or who.service is not None or who.federated is not None:
        return "NoMatch"
    if re.fullmatch(r"\d{12}", value) or re.fullmatch(r"arn:[^:]*:iam::\d{12}:root", value):
        return "AccountLevelMatch" if value.split(":")[-2 if ":" in value else 0] == who.account_id else "NoMatch"
    if re.fullmatch(r"A[0-9A-Z]+", value):
        return "NoMatch"  # a unique id: never equal to an ARN
    if who.session_arn is not None:
        role = re.fullmatch(r"arn:([^:]*):iam::(\d{12}):role/(?:.*/)?([^/]+)", value)
        session = re.fullmatch(r"arn:([^:]*):sts::(\d{12}):assumed-role/([^/]+)/.*", who.session_arn)
        if (
            role
            and session
            and role[1] == session[1]
            and role[2] == session[2]
            and role[3].lower() == session[3].lower()
        ):
            return "SessionRoleMatch"
    federated_user = re.fullmatch(r"arn:([^:]*):sts::(\d{12}):federated-user/(.+)", who.value)
    if federated_user and value == f"arn:{federated_user[1]}:iam::{federated_user[2]}:user/{federated_user[3]}":
        return "SessionUserMatch"
    return "Match" if value == who.value else "NoMatch"


def _principals(element: Any) -> list[tuple[str, str]]:
    if isinstance(element, str):
        return [("AWS", element)]
    if isinstance(element, Mapping):
        return [(str(k), str(v)) for k, vs in element.items() for v in _list(vs)]
    return []


def _principal_match(statement: Mapping[str, Any], who: Principal, has_boundary: bool) -> str:
    if "Principal" in statement:
        found = {_principal_one(k, v, who) for k, v in _principals(statement["Principal"])}
        for strength in (*_DIRECT, "AccountLevelMatch"):
            if strength in found:
                return strength
        return "NoMatch"
    if "NotPrincipal" in statement:
        if has_boundary and statement.get("Effect") == "Deny":
            # https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_notprincipal.html:
            # a Deny with NotPrincipal always applies to a principal with a permissions boundary.
            return "Match"
        listed = any(_principal_one(k, v, who) != "NoMatch" for k, v in _principals(statement["NotPrincipal"]))
        return "NoMatch" if listed else "Match"
    return "NoMatch"


def _statements(document: Document | str) -> Sequence[Mapping[str, Any]]:
    if isinstance(document, str):
        return _parsed_statements(document)
    stmts = document.get("Statement", [])
    return [stmts] if isinstance(stmts, Mapping) else list(stmts)


@functools.lru_cache(maxsize=4096)
def _parsed_statements(text: str) -> tuple[Mapping[str, Any], ...]:
    # A policy's text is parsed once: the same documents decide every call of a run. Callers only read statements.
    document = json.loads(text)
    assert not isinstance(document, str)
    return tuple(_statements(document))


def _applies(statement: Mapping[str, Any], request: Request, keys: Mapping[str, _Value], kind: str) -> bool:
    return (
        _actions_match(statement, request.action)
        and _resources_match(statement, request, keys, kind)
        and all(
            _operator_true(op, key, expected, keys)
            for op, block in (statement.get("Condition") or {}).items()
            for key, expected in block.items()
        )
    )


def statement_applies(statement: Mapping[str, Any], request: Request) -> bool:
    """Whether Action/NotAction, Resource/NotResource and Condition of `statement` match (Principal not considered)."""
    return _applies(statement, request, request.keys(), "identity")


def denying_statements(documents: Iterable[Document], request: Request) -> list[str]:
    """Sids of the Deny statements in `documents` that deny `request` (empty: not explicitly denied)."""
    keys = request.keys()
    return [
        str(s.get("Sid", "?"))
        for doc in documents
        for s in _statements(doc)
        if s.get("Effect") == "Deny" and _applies(s, request, keys, "identity")
    ]


def is_denied(documents: Iterable[Document], request: Request) -> bool:
    return bool(denying_statements(documents, request))


def unknown_operators(documents: Iterable[Document]) -> list[str]:
    """Condition operators in `documents` that IAM does not define (they never match, so a Deny using one is inert)."""
    return sorted(
        {
            op
            for doc in documents
            for s in _statements(doc)
            for op in (s.get("Condition") or {})
            if not operator_known(op)
        }
    )


# --- decisions -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Policies:
    identity: Sequence[Document] = ()
    boundary: Document | None = None
    session: Sequence[Document] | None = None
    scps: Sequence[Sequence[Document]] | None = None
    rcps: Sequence[Sequence[Document]] | None = None
    resource: Document | None = None
    resource_account: str | None = None
    resource_kind: str = "default"


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str
    policy_kind: str
    statement: str | None = None


SCP = "service control policy"
RCP = "resource control policy"
IDENTITY = "identity-based policy"
RESOURCE = "resource-based policy"
BOUNDARY = "permissions boundary"
SESSION = "session policy"


@dataclass
class _Analysis:
    """Matching Allow and Deny statements of one policy type: (statement id, principal match)."""

    allows: list[tuple[str, str]] = field(default_factory=list)
    denies: list[tuple[str, str]] = field(default_factory=list)

    @property
    def allowed(self) -> bool:
        return bool(self.allows)


def _sid(statement: Mapping[str, Any], index: int) -> str:
    return str(statement.get("Sid") or index)


def _analyse(documents: Iterable[Document], request: Request, keys: Mapping[str, _Value], kind: str) -> _Analysis:
    out = _Analysis()
    for doc in documents:
        for i, s in enumerate(_statements(doc)):
            if _applies(s, request, keys, kind):
                (out.allows if s.get("Effect") == "Allow" else out.denies).append((_sid(s, i), "Match"))
    return out


def _control(
    levels: Sequence[Sequence[Document]], request: Request, keys: Mapping[str, _Value], kind: str
) -> tuple[str, str | None]:
    """("allow" | "deny" | "implicit", deciding statement) for SCPs or RCPs: every level must allow, none deny."""
    analyses = [_analyse(docs, request, keys, kind) for docs in levels]
    for a in analyses:
        if a.denies:
            return "deny", a.denies[0][0]
    for a in analyses:
        if not a.allows:
            return "implicit", None
    return "allow", None


def _resource_analysis(
    document: Document, request: Request, keys: Mapping[str, _Value], has_boundary: bool
) -> _Analysis:
    who = request.who()
    out = _Analysis()
    for i, s in enumerate(_statements(document)):
        match = _principal_match(s, who, has_boundary)
        if match == "NoMatch" or not _applies(s, request, keys, "resource"):
            continue
        (out.allows if s.get("Effect") == "Allow" else out.denies).append((_sid(s, i), match))
    return out


def _deny(kind: str, statement: str | None) -> Decision:
    return Decision(False, "explicit_deny", kind, statement)


_IMPLICIT = {
    SCP: "no_scp_allow",
    RCP: "no_rcp_allow",
    IDENTITY: "no_identity_allow",
    RESOURCE: "no_resource_allow",
    BOUNDARY: "no_boundary_allow",
    SESSION: "no_session_allow",
}


def _implicit(kind: str) -> Decision:
    return Decision(False, _IMPLICIT[kind], kind)


def decide(request: Request, policies: Policies) -> Decision:
    """AWS's decision for `request` under `policies`, with the policy type (and statement) that decided a denial."""
    who = request.who()
    keys = request.keys()
    action = request.action.lower()
    if action == "sts:getcalleridentity" and who.service is None:
        # No permission is needed and none can deny it (https://docs.aws.amazon.com/STS/latest/APIReference/API_GetCallerIdentity.html).
        return Decision(True, "allowed", "")
    is_service = who.service is not None
    has_boundary = policies.boundary is not None and not is_service
    same_account = policies.resource_account is None or policies.resource_account == who.account_id

    scp = _control(policies.scps, request, keys, "scp") if policies.scps is not None and not is_service else None
    rcp = _control(policies.rcps, request, keys, "rcp") if policies.rcps is not None and not is_service else None
    resource = (
        _resource_analysis(policies.resource, request, keys, has_boundary) if policies.resource is not None else None
    )
    identity = _analyse(policies.identity, request, keys, "identity") if not is_service else _Analysis()
    boundary = (
        _analyse([policies.boundary], request, keys, "identity")
        if policies.boundary is not None and has_boundary
        else None
    )
    session = (
        _analyse(policies.session, request, keys, "identity")
        if policies.session is not None and not is_service
        else None
    )

    # 1. An explicit deny in any applicable policy decides (a resource-policy deny naming the account denies all of it).
    if scp is not None and scp[0] == "deny":
        return _deny(SCP, scp[1])
    if rcp is not None and rcp[0] == "deny":
        return _deny(RCP, rcp[1])
    for analysis, kind in ((resource, RESOURCE), (identity, IDENTITY), (boundary, BOUNDARY), (session, SESSION)):
        if analysis is not None and analysis.denies:
            return _deny(kind, analysis.denies[0][0])

    # 2. Organization guardrails: an Allow at every level of the account's (and the resource's) path.
    if scp is not None and scp[0] == "implicit":
        return _implicit(SCP)
    if rcp is not None and rcp[0] == "implicit":
        return _implicit(RCP)

    # 3. Resource-based policy and identity-based policy.
    direct = [sid for sid, m in resource.allows if m in _DIRECT] if resource is not None else []
    account_level = [sid for sid, m in resource.allows if m == "AccountLevelMatch"] if resource is not None else []
    if is_service:
        return Decision(True, "allowed", "") if direct else _implicit(RESOURCE)
    if same_account:
        trust = _account_trust(policies, request, resource is not None, bool(account_level))
        identity_path = identity.allowed and trust != "none"
        if not (direct or identity_path):
            lacking = IDENTITY if trust == "implicit" or (trust == "explicit" and not identity.allowed) else RESOURCE
            return _implicit(lacking)
    else:
        if not (direct or account_level):
            return _implicit(RESOURCE)
        if not identity.allowed:
            return _implicit(IDENTITY)
        identity_path = True

    # 4. Permissions boundary and session policy limit what the identity side grants. Within an account, a
    #    resource-policy grant to the session (or user) ARN itself is not limited by either
    #    (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic_policy-eval-basics.html).
    bypass = same_account and _grants_session_directly(policies.resource, request, keys, has_boundary)
    if boundary is not None and not boundary.allowed and not bypass:
        return _implicit(BOUNDARY)
    if session is not None and not session.allowed and not bypass:
        return _implicit(SESSION)
    del identity_path
    return Decision(True, "allowed", "")


def _account_trust(policies: Policies, request: Request, has_resource_policy: bool, account_level: bool) -> str:
    """Whether, within one account, an identity-policy Allow is enough: "implicit" (always), "explicit" (the
    resource policy allows the account, e.g. a key policy enabling IAM policies) or "none" (only a direct grant)."""
    if policies.resource_kind == "kms":
        # https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html#key-policy-default-allow-root-enable-iam
        if request.resource == "*" or not request.resource.split(":", 5)[-1].lower().startswith("key/"):
            return "implicit"
        return "explicit" if account_level else "none"
    if policies.resource_kind == "trust":
        # https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_compare-resource-policies.html: a role's trust
        # policy must name the caller, or its account (then the caller's identity policy must allow as well).
        if not has_resource_policy:
            return "implicit"
        return "explicit" if account_level else "none"
    return "implicit"


def _grants_session_directly(
    document: Document | None, request: Request, keys: Mapping[str, _Value], has_boundary: bool
) -> bool:
    """A resource-policy Allow that names this session or user itself (not its role, not its account)."""
    if document is None:
        return False
    who = request.who()
    if who.session_arn is not None or re.search(r":iam::\d{12}:user/|:sts::\d{12}:federated-user/", who.value):
        wildcard_only = False
    elif re.search(r":iam::\d{12}:role/", who.value):
        wildcard_only = True  # a role ARN (not a session of it) bypasses only through a grant to everyone
    else:
        return False
    for s in _statements(document):
        if s.get("Effect") != "Allow" or _principal_match(s, who, has_boundary) != "Match":
            continue
        if wildcard_only and not any(k == "AWS" and set(v) == {"*"} for k, v in _principals(s.get("Principal"))):
            continue
        if _applies(s, request, keys, "resource"):
            return True
    return False


def denial_message(request: Request, decision: Decision, caller: str) -> str:
    """AccessDenied's message in AWS's wording (https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_access-denied.html)."""
    on = "" if request.resource == "*" else f" on resource: {request.resource}"
    head = f"User: {caller} is not authorized to perform: {request.action}{on}"
    if decision.reason == "explicit_deny":
        article = "an" if decision.policy_kind[:1] in "aeiou" else "a"  # "an identity-based policy"
        return f"{head} with an explicit deny in {article} {decision.policy_kind}"
    return f"{head} because no {decision.policy_kind} allows the {request.action} action"
