"""Mapping a checkpoint's keys onto the workspace's variables by evidence,
strongest first, and the ``--map`` arguments that reproduce the mapping.

Each key goes through the tiers in order, and a tier maps a key only when
exactly one free variable fits it (same dtype, compatible shape) and no
other key claims that variable in the same tier; otherwise the key waits for
the next pass or tier. Nothing is guessed: two candidates that fit equally
leave the key ``'ambiguous'``, with both named.

1. ``'exact'``: the key is the variable's name.
2. ``'object path'`` / ``'keras order'``: the key is where the live object
   graph (``tf.train.Checkpoint``) or Keras's own walk over a live model
   (``.weights.h5``) puts the variable; found by the caller (:mod:`.live`).
   Two live objects that place a key equally well leave it ambiguous.
3. ``'TF1 name'``: keys in the classic names of TF1 and contrib code
   (``weights`` for ``kernel``, ``biases`` for ``bias``, a ``BatchNorm``
   scope around ``gamma``, ``beta``, ``moving_mean``, ``moving_variance``),
   renamed, then matched as in 4.
4. ``'scope renamed'``: the longest run of trailing name components agrees
   (``old_net/dense/kernel`` -> ``net/dense/kernel``): first whole
   top-level scopes, when one scope of keys alone renames onto a scope of
   the workspace, then key by key. A key's longest run is fixed against all
   variables: when its match is taken, it does not fall to a weaker one.
5. ``'unique shape'``: the only key and the only variable left with that
   shape and dtype.
"""

from __future__ import annotations

import shlex
from bisect import bisect_left, insort
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Literal, TypeAlias, cast

from .comparison import GraphIndex, map_name
from .index import BOOKKEEPING_KEYS, OBJECT_VALUE_SUFFIX, CheckpointIndex, graph_name

How: TypeAlias = Literal['exact', 'object path', 'keras order', 'scope renamed', 'TF1 name',
                         'unique shape', '']
#: Where live objects put a key: the variable's name (one per object that
#: explains the checkpoint equally well), and by which evidence.
NO_HOW: How = ''
EXACT: How = 'exact'
SCOPE_RENAMED: How = 'scope renamed'
Placement: TypeAlias = tuple[tuple[str, ...], How]
MapStatus: TypeAlias = Literal['mapped', 'ambiguous', 'unmatched', 'shape mismatch']
MAPPED: MapStatus = 'mapped'
AMBIGUOUS: MapStatus = 'ambiguous'
UNMATCHED: MapStatus = 'unmatched'
SHAPE_MISMATCH: MapStatus = 'shape mismatch'

#: Leaf names TF1 and contrib layers used, as Keras and tf.layers name them.
TF1_LEAVES = {'weights': 'kernel', 'biases': 'bias'}
#: The scope contrib's batch_norm put its variables in, which Keras has not.
TF1_SCOPES = frozenset({'BatchNorm'})


@dataclass(slots=True)
class MapRow:
    """One checkpoint key (or a variable no key maps to) and its mapping."""

    key: str | None
    shape: tuple | None
    dtype: str
    variable: str  # the variable mapped to; '' when there is none
    how: How
    status: MapStatus
    candidates: list[str] = field(default_factory=list)  # for 'ambiguous'
    detail: str = ''  # why a key could not be mapped, for messages

    def describe(self) -> str:
        if self.key is None:
            return f'{self.variable}: no key maps to it'
        if self.status == AMBIGUOUS:
            return f'{self.key}: ambiguous, could be {_either(self.candidates)}'
        if self.status == SHAPE_MISMATCH or self.detail:
            return f'{self.key} -> {self.variable}: {self.detail}'
        return f'{self.key}: no variable fits it ({self.dtype} {self.shape})'


@dataclass
class CheckpointMap:
    """A checkpoint's keys mapped onto the workspace: one row per key, in
    key order, then one per variable no key maps to (key None), kept as
    columns so that 10,000 keys cost no 10,000 objects; :attr:`rows` gives
    row objects."""

    key: list[str | None]
    shape: list[tuple | None]
    dtype: list[str]
    variable: list[str]
    how: list[How]
    status: list[MapStatus]
    variables: frozenset[str]  # every variable's name, mapped or not
    candidates: dict[str, list[str]] = field(default_factory=dict)  # of ambiguous keys
    details: dict[str, str] = field(default_factory=dict)  # why a key did not map
    #: (old scope, new scope) of the names of keys mapped by a scope rename.
    scopes: dict[str, tuple[str, str]] = field(default_factory=dict)
    #: The name each key is matched by, where it is not the key (an object
    #: path without its suffix).
    names: dict[str, str] = field(default_factory=dict)
    #: Top-level scopes all of whose keys were renamed as one, ((old, new),
    #: how many keys): ``old=new`` alone gives each of them.
    scope_groups: list[tuple[tuple[str, str], int]] = field(default_factory=list)
    #: The live Keras model(s) whose layout placed a Keras file's keys.
    placed_by: str | None = None

    def __len__(self) -> int:
        return len(self.key)

    def _row(self, i: int) -> MapRow:
        key = self.key[i]
        return MapRow(key, self.shape[i], self.dtype[i], self.variable[i], self.how[i],
                      self.status[i], self.candidates.get(key or '', []),
                      self.details.get(key or '', ''))

    @property
    def rows(self) -> list[MapRow]:
        return [self._row(i) for i in range(len(self.key))]

    def mapping(self) -> dict[str, str]:
        """Checkpoint name -> variable name of every mapped key (names as
        :func:`~.comparison.map_name` takes them: object paths without
        ``/.ATTRIBUTES/VARIABLE_VALUE``)."""
        return {graph_name(key): variable
                for key, variable, status in zip(self.key, self.variable, self.status,
                                                 strict=True)
                if status == MAPPED and key is not None}

    def exact_mapping(self) -> dict[str, str]:
        """:meth:`mapping` with every other key pinned to its own name: a
        mapping of single names that :func:`map_name` cannot stretch to the
        keys under them (``a/w=b/w`` would also rename ``a/w/ema``)."""
        names = self.names
        pinned = {names.get(key, key): names.get(key, key) for key, status
                  in zip(self.key, self.status, strict=True)
                  if key is not None and status != MAPPED}
        return {**pinned, **self.mapping()}

    def problems(self) -> list[MapRow]:
        if self.status.count(MAPPED) == len(self.status):
            return []
        return [self._row(i) for i, status in enumerate(self.status) if status != MAPPED]

    def counts(self) -> Counter:
        """How many keys each tier mapped."""
        counts = Counter(self.how)
        for row in self.problems():
            counts[row.how] -= 1
        counts = +counts  # without the tiers left at zero
        counts.pop(NO_HOW, None)
        return counts

    def map_arguments(self) -> list[str]:
        """``OLD=NEW`` pairs for ``--map`` that give exactly this mapping."""
        return format_pairs(reproducing_pairs(self))


#: Candidates an ambiguous key names; the rest are counted.
SHOWN_CANDIDATES = 4


def _either(names: list[str]) -> str:
    """``'a or b'``; ``'a or b or c or d or 7 more'`` for many."""
    shown = ' or '.join(names[:SHOWN_CANDIDATES])
    more = len(names) - SHOWN_CANDIDATES
    return f'{shown} or {more} more' if more > 0 else shown


def _fits(graph_shape: list | None, shape: list[int]) -> bool:
    if graph_shape is None:
        return True
    return len(graph_shape) == len(shape) and all(
        g is None or g == c for g, c in zip(graph_shape, shape, strict=True))


def _tf1_name(name: str) -> str:
    """``fc1/BatchNorm/gamma`` -> ``fc1/gamma``, ``fc1/weights`` -> ``fc1/kernel``."""
    parts = [part for part in name.split('/') if part not in TF1_SCOPES]
    if parts:
        parts[-1] = TF1_LEAVES.get(parts[-1], parts[-1])
    return '/'.join(parts)


def _suffixes(name: str) -> Iterator[str]:
    """``'a/b/c'``, ``'b/c'``, ``'c'``: longest first."""
    yield name
    cut = name.find('/')
    while cut >= 0:
        name = name[cut + 1:]
        yield name
        cut = name.find('/')


class _Matcher:
    """The state of one mapping, in columns by key position (keys sorted):
    each key's variable, how and status; the positions still open; the free
    variables."""

    def __init__(self, index: CheckpointIndex, graph: GraphIndex):
        self.index, self.graph = index, graph
        keys = sorted(index.shapes)
        if not BOOKKEEPING_KEYS.isdisjoint(keys):
            keys = [k for k in keys if k not in BOOKKEEPING_KEYS or graph_name(k) in graph.shapes]
        self.keys = keys
        # The name a key is matched by: an object path without its suffix.
        self.names = (list(map(graph_name, keys))
                      if OBJECT_VALUE_SUFFIX in '\n'.join(keys) else keys)
        n = len(keys)
        self.target: list[str] = [''] * n
        self.how: list[How] = [NO_HOW] * n
        self.status: list[MapStatus] = [UNMATCHED] * n
        self.open = list(range(n))
        self.free = set(graph.names)
        self.details: dict[str, str] = {}
        self.candidates: dict[str, list[str]] = {}  # the first tier's, of keys left open
        self.scopes: dict[str, tuple[str, str]] = {}  # name -> (old, new) of a suffix match
        self.scope_groups: list[tuple[tuple[str, str], int]] = []  # whole scopes renamed
        self.consumed = False  # whether any variable has been taken (free is not all)

    def fits(self, key: str, variable: str) -> bool:
        graph_shape, shape = self.graph.shapes[variable], self.index.shapes[key]
        return (self.graph.dtypes[variable] == self.index.dtypes[key]
                and (graph_shape == shape or _fits(graph_shape, shape)))

    def take(self, i: int, variable: str, how: How) -> None:
        """Map key ``i`` to ``variable``, or record why they do not fit."""
        key = self.keys[i]
        self.free.discard(variable)
        self.consumed = True
        self.target[i], self.how[i] = variable, how
        if self.fits(key, variable):
            self.status[i] = MAPPED
            return
        record = self.graph.records[variable]
        if self.graph.dtypes[variable] != self.index.dtypes[key]:
            dtype = self.index.dtype_names([key])[0]
            self.details[key] = f'dtype {dtype} in checkpoint, {record.dtype} in workspace'
        else:
            self.status[i] = SHAPE_MISMATCH
            self.details[key] = (f'shape {tuple(self.index.shapes[key])} in checkpoint, '
                                 f'{record.shape} in workspace')

    def _close(self) -> None:
        how = self.how
        self.open = [i for i in self.open if not how[i]]

    def everything_exact(self) -> bool:
        """A checkpoint of exactly the workspace's variables: two dict comparisons."""
        index, graph = self.index, self.graph
        if len(self.keys) != len(index.shapes) or not (
                index.shapes == graph.shapes and index.dtypes == graph.dtypes):
            return False
        n = len(self.keys)
        self.target = list(self.keys)
        self.how = [EXACT] * n
        self.status = [MAPPED] * n
        self.free = set()
        self.open = []
        return True

    def exact(self) -> None:
        free, names = self.free, self.names
        if free.isdisjoint(names):
            return
        for i in self.open:
            if names[i] in free:
                self.take(i, names[i], 'exact')
        self._close()

    def known(self, found: Mapping[str, Placement]) -> None:
        """Keys the live objects place; where several objects place a key
        (two models of one structure), it stays ambiguous between them."""
        keys = self.keys
        for i in self.open:
            if keys[i] not in found:
                continue
            names, how = found[keys[i]]
            free = sorted(name for name in names if name in self.free)
            if len(free) == 1:
                self.take(i, free[0], how)
            elif free:
                self.target[i], self.how[i], self.status[i] = _either(free), how, AMBIGUOUS
                self.candidates[keys[i]] = free
        self._close()

    def renamed_heads(self) -> None:
        """A scope rename at the top (``old_net/...`` -> ``net/...``, the
        common case), for whole scopes at once: a top-level scope of keys
        whose every rest is the rest of a variable under one top-level scope
        of the workspace, and of no other. What is left goes to
        :meth:`by_suffix`, key by key."""
        names, free = self.names, self.free
        every_key = len(self.open) == len(self.keys)  # so a head's keys here are all it has
        if every_key and names is self.keys:
            self._renamed_runs()
            if not self.open:
                return
            every_key = False
        keys_by_head: dict[str, dict[str, int]] = defaultdict(dict)
        for i in self.open:
            head, sep, rest = names[i].partition('/')
            if sep:
                keys_by_head[head][rest] = i
        variables_by_head, head_of_rest, shared = self.graph.by_head
        keys, shapes, dtypes = self.keys, self.index.shapes, self.index.dtypes
        graph_shapes, graph_dtypes = self.graph.shapes, self.graph.dtypes
        target, how, status = self.target, self.how, self.status
        owners = {head: head_of_rest.get(next(iter(rests))) for head, rests in keys_by_head.items()}
        claimed = Counter(owners.values())
        for head, rests in keys_by_head.items():
            owner = owners[head]
            if owner is None or claimed[owner] > 1:  # two scopes onto one: not for sure
                continue
            variables = variables_by_head[owner]
            if not (variables.keys() >= rests.keys() and shared.isdisjoint(rests)):
                continue
            taken = 0
            for rest, i in rests.items():
                variable = variables[rest]
                key = keys[i]
                if (variable in free and graph_shapes[variable] == shapes[key]
                        and graph_dtypes[variable] == dtypes[key]):
                    target[i], how[i], status[i] = variable, 'scope renamed', MAPPED
                    free.discard(variable)
                    taken += 1
            if taken == len(rests) and every_key:
                self.scope_groups.append(((head, owner), taken))
            else:  # not the whole scope: each key taken has the pair
                for i in rests.values():
                    if how[i]:
                        self.scopes[names[i]] = (head, owner)
        self._close()

    def _renamed_runs(self) -> None:
        """:meth:`renamed_heads` where every key is open, by runs of sorted
        keys that share a top-level scope (found by bisection: the keys
        between two that start with ``head/`` all do), each checked and
        taken with a few whole-list operations: a 10,000-key rename costs no
        10,000 steps of Python. A run that does not map whole is left open."""
        keys, n = self.keys, len(self.keys)
        variables_by_head, head_of_rest, shared = self.graph.by_head
        shapes, dtypes = self.index.shapes, self.index.dtypes
        graph_shapes, graph_dtypes = self.graph.shapes, self.graph.dtypes
        free = self.free
        # One dtype on both sides, the same: no key's dtype needs checking.
        dtype_set = set(dtypes.values())
        one_dtype = len(dtype_set) == 1 and set(graph_dtypes.values()) == dtype_set
        runs = []  # (start, end, head, rests, owner) of each top-level scope of keys
        start = 0
        while start < n:
            head, sep, first = keys[start].partition('/')
            if not sep:
                start += 1
                continue
            end = bisect_left(keys, head + '0', start)  # '0' follows '/'
            cut = len(head) + 1
            runs.append((start, end, head, [key[cut:] for key in keys[start:end]],
                         head_of_rest.get(first)))
            start = end
        claimed = Counter(owner for *_, owner in runs)
        taken = 0
        for start, end, head, own, owner in runs:
            if owner is None or claimed[owner] > 1:  # two scopes onto one: not for sure
                continue
            variables = variables_by_head[owner]
            targets = list(map(variables.get, own))
            if None not in targets and (not shared or shared.isdisjoint(own)):
                found = cast(list[str], targets)
                run_keys = keys[start:end]
                # Distinct keys of one scope have distinct rests, so distinct targets.
                if ((not self.consumed or free.issuperset(found))
                        and list(map(graph_shapes.__getitem__, found))
                        == list(map(shapes.__getitem__, run_keys))
                        and (one_dtype or list(map(graph_dtypes.__getitem__, found))
                             == list(map(dtypes.__getitem__, run_keys)))):
                    self.target[start:end] = found
                    self.how[start:end] = [SCOPE_RENAMED] * len(own)
                    self.status[start:end] = [MAPPED] * len(own)
                    free.difference_update(found)
                    self.consumed = True
                    self.scope_groups.append(((head, owner), len(own)))
                    taken += len(own)
        if taken == n:
            self.open = []
        elif taken:
            self._close()

    def by_suffix(self, how: How, rename: Callable[[str], str] | None = None) -> None:
        """Keys whose longest run of trailing name components (after
        ``rename``; with one, only the keys it changes) that any variable
        has belongs to one free, fitting variable; repeated while each pass
        maps some. The run is the longest among all variables, taken or
        not: a key whose own match is taken falls to no weaker one."""
        names, keys = self.names, self.keys
        by_suffix, by_kind = self.graph.by_suffix, self.graph.by_suffix_and_kind
        if rename is None:
            own = {i: names[i] for i in self.open}
        else:
            own = {i: renamed for i in self.open if (renamed := rename(names[i])) != names[i]}
        # Each key's longest run that some variable shares, fixed once.
        level: dict[int, str] = {}
        for i, name in own.items():
            for suffix in _suffixes(name):
                if suffix in by_suffix:
                    level[i] = suffix
                    break
        while level:
            claims: dict[str, list[tuple[int, str]]] = {}
            for i, suffix in level.items():
                fitting = self._fitting(keys[i], suffix, by_kind)
                if len(fitting) == 1:
                    claims.setdefault(fitting[0], []).append((i, suffix))
                elif fitting:
                    self.candidates.setdefault(keys[i], fitting)
            taken = 0
            for variable, claimants in claims.items():
                if len(claimants) > 1:
                    for i, _ in claimants:
                        self.candidates.setdefault(keys[i], [variable])
                    continue
                i, suffix = claimants[0]
                self.take(i, variable, how)
                self.candidates.pop(keys[i], None)
                if rename is None:
                    cut = len(suffix) + 1
                    self.scopes[names[i]] = (names[i][:-cut], variable[:-cut])
                taken += 1
            self._close()
            if not taken:
                return
            level = {i: suffix for i, suffix in level.items() if not self.how[i]}

    def _fitting(self, key: str, suffix: str,
                 by_kind: Mapping[tuple[str, tuple | None, int], list[str]]) -> list[str]:
        """The free variables ending in ``suffix`` that fit ``key``: all of
        them when a few, else the first few (enough to say it is ambiguous)."""
        shape, dtype = self.index.shapes[key], self.index.dtypes[key]
        free = self.free
        found = [v for v in by_kind.get((suffix, tuple(shape), dtype), ()) if v in free]
        found += [v for v in by_kind.get((suffix, None, dtype), ())
                  if v in free and self.fits(key, v)]
        return sorted(found)

    def unique_shape(self) -> None:
        if not self.open:
            return
        def signature(shape: list | tuple | None, dtype: int) -> tuple:
            return (None if shape is None else tuple(shape), dtype)
        keys: dict[tuple, list[int]] = defaultdict(list)
        for i in self.open:
            key = self.keys[i]
            keys[signature(self.index.shapes[key], self.index.dtypes[key])].append(i)
        variables: dict[tuple, list[str]] = defaultdict(list)
        for v in self.free:
            variables[signature(self.graph.shapes[v], self.graph.dtypes[v])].append(v)
        for sig, group in keys.items():
            found = variables.get(sig, [])
            if len(group) == 1 and len(found) == 1:
                self.take(group[0], found[0], 'unique shape')
            elif found:
                shared = sorted(found)  # one list for the whole group
                for i in group:
                    self.candidates.setdefault(self.keys[i], shared)
        self._close()

    def result(self) -> CheckpointMap:
        index, graph, keys = self.index, self.graph, self.keys
        target, status = self.target, self.status
        for i in self.open:  # never mapped: ambiguous if some tier saw candidates
            seen = self.candidates.get(keys[i])
            if seen:
                status[i], target[i] = AMBIGUOUS, _either(seen)
        ambiguous = {keys[i]: self.candidates[keys[i]] for i, s in enumerate(status)
                     if s == AMBIGUOUS} if self.candidates else {}
        lacking = sorted(self.free)
        records = graph.records
        key_column: list[str | None] = list(keys)
        shape_column: list[tuple | None] = list(map(tuple, map(index.shapes.__getitem__, keys)))
        dtype_column, how_column = index.dtype_names(keys), self.how
        if lacking:  # rows of the variables no key maps to, after the keys
            key_column += [None] * len(lacking)
            shape_column += [records[v].shape for v in lacking]
            dtype_column += [records[v].dtype for v in lacking]
            target += lacking
            how_column += [NO_HOW] * len(lacking)
            status += [UNMATCHED] * len(lacking)
        return CheckpointMap(
            key=key_column, shape=shape_column, dtype=dtype_column, variable=target,
            how=how_column, status=status,
            variables=frozenset(graph.names), candidates=ambiguous,
            details=dict(self.details), scopes=self.scopes,
            names=dict(zip(keys, self.names, strict=True)) if self.names is not keys else {},
            scope_groups=self.scope_groups)


def _has_tf1_names(names: Iterable[str]) -> bool:
    text = '\n'.join(names)
    return 'weights' in text or 'biases' in text or 'BatchNorm' in text


def auto_map(index: CheckpointIndex, graph: GraphIndex,
             found: Mapping[str, Placement] | None = None) -> CheckpointMap:
    """Map every key of ``index`` onto the variables of ``graph``; ``found``
    holds the keys the live objects place."""
    matcher = _Matcher(index, graph)
    if not matcher.everything_exact():
        matcher.exact()
        if found and matcher.open:
            matcher.known(found)
        if matcher.open and matcher.free:
            if _has_tf1_names(matcher.names if len(matcher.open) == len(matcher.keys)
                              else [matcher.names[i] for i in matcher.open]):
                matcher.by_suffix('TF1 name', _tf1_name)
            matcher.renamed_heads()
            if matcher.open:
                matcher.by_suffix('scope renamed')
                matcher.unique_shape()
    return matcher.result()


# -- the --map arguments ----------------------------------------------------------


def _scope_pair(name: str, variable: str) -> tuple[str, str]:
    """``('old/x', 'new/x')`` -> ``('old', 'new')``: the prefixes that differ."""
    a, b = name.split('/'), variable.split('/')
    while len(a) > 1 and len(b) > 1 and a[-1] == b[-1]:
        a, b = a[:-1], b[:-1]
    return '/'.join(a), '/'.join(b)


def reproducing_pairs(result: CheckpointMap) -> dict[str, str]:
    """OLD -> NEW pairs with which :func:`map_name` maps every mapped key to
    its variable and no other key onto a variable: scopes where a scope
    rename explains all of its keys, single names elsewhere."""
    variables = result.variables
    names = result.names
    # A top-level scope renamed as one: its pair alone gives every key in it.
    whole = dict(pair for pair, _ in result.scope_groups)
    if sum(count for _, count in result.scope_groups) == len(result) - result.key.count(None):
        return whole  # every key is in such a scope
    wanted: dict[str, str | None] = {}
    renamed: dict[str, str] = {}
    for key, variable, status in zip(result.key, result.variable, result.status, strict=True):
        if key is None:
            break  # the variables no key maps to come last
        name = names.get(key, key) if names else key
        if whole and name.partition('/')[0] in whole:
            continue
        if status != MAPPED:
            wanted[name] = None
            continue
        wanted[name] = variable
        if variable != name:
            renamed[name] = variable
    if not renamed:
        return whole
    scope_of = result.scopes
    scopes = Counter(scope_of[name] if name in scope_of else _scope_pair(name, variable)
                     for name, variable in renamed.items())
    ordered = sorted(wanted)  # a scope's names in one bisection, not a pass
    pairs: dict[str, str] = dict(whole)
    taken = sorted(pairs)
    explained: set[str] = set()
    for (old, new), _ in sorted(scopes.items(), key=lambda item: (-item[1], item[0])):
        if old == new or old in pairs or old.partition('/')[0] in whole:
            continue
        trial = {**pairs, old: new}
        under = (ordered if not old else
                 [n for n in ordered[bisect_left(ordered, old):bisect_left(ordered, old + '0')]
                  if n == old or n.startswith(old + '/')])
        # Where no other pair is inside this scope, it alone renames its names.
        alone = bool(old) and bisect_left(taken, old + '/') == bisect_left(taken, old + '0')
        if all(_agrees(wanted[name], _renamed(name, old, new) if alone else
                       map_name(name, trial), name, variables) for name in under):
            pairs = trial
            insort(taken, old)
            explained.update(under)
    singles = [name for name, target in renamed.items()
               if name not in explained and map_name(name, pairs) != target]
    for name in singles:
        pairs[name] = renamed[name]
    # A single name is a scope to map_name too: pin the keys under it.
    for name in singles:
        for inner in ordered[bisect_left(ordered, name + '/'):bisect_left(ordered, name + '0')]:
            want = wanted[inner]
            if not _agrees(want, map_name(inner, pairs), inner, variables):
                pairs[inner] = want or inner
    return pairs


def _renamed(name: str, old: str, new: str) -> str:
    """What the one pair ``old=new`` makes of ``name``, which is in ``old``
    (:func:`map_name` with that pair alone)."""
    if name == old:
        return new or name
    rest = name[len(old) + 1:]
    return f'{new}/{rest}' if new else rest


def _agrees(want: str | None, target: str, name: str, variables: frozenset[str]) -> bool:
    """Whether ``name`` renamed to ``target`` is what is wanted: ``want``,
    or (None: a key not mapped) no other variable."""
    return target == want if want is not None else target == name or target not in variables


def format_pairs(pairs: Mapping[str, str]) -> list[str]:
    """``--map`` arguments, shell-quoted where needed; ``/`` for the root."""
    return [shlex.quote(f'{old or "/"}={new or "/"}') for old, new in sorted(pairs.items())]
