"""The managed ``tf.compat.v1`` graph and session, entered around each cell
(graph mode); or, in eager mode, no graph at all: cells run as plain TF2.

A :class:`Workspace` owns one graph and a session bound to it (created on first
use). :meth:`Workspace.enter` makes both the defaults, together with any
per-cell contexts other layers registered (the variable tracker's creator
scope); :meth:`Workspace.leave` undoes exactly that, whatever the cell did.

In eager mode the workspace only enters the per-cell contexts (the tracker's
creator scope sees every variable made) and holds the variables weakly: one
the user drops leaves it, and nothing here keeps its memory alive.

It also holds the few session-side services the upper layers share, each built
so that a repeated call adds no op to the graph: which variables are
initialized, running their initializers, and fetching values through cached
callables in bounded batches.
"""

from __future__ import annotations

import contextlib
import math
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any, Literal, TypeVar, overload

import numpy as np
import tensorflow as tf

#: A fetch batch holds at most this many bytes of variable values, so listing
#: the statistics of a large model never holds two copies of it in memory.
MAX_FETCH_BYTES = 256 * 2**20
#: The name scope of the ops tfmagic adds to the graph (initialization
#: checks, savers); %tfgraph leaves it out.
OWN_SCOPE = 'tfmagic'

Mode = Literal['graph', 'eager']
GRAPH: Mode = 'graph'
EAGER: Mode = 'eager'
MODES: tuple[Mode, ...] = (GRAPH, EAGER)

#: How many distinct fetch sets keep a compiled session callable.
_CALLABLE_CACHE_SIZE = 16

#: A device function (``replica_device_setter``'s), or a device name.
DevicePlacement = Callable[[tf.Operation], str] | str
#: Whether a cluster still answers, after a run failed with the error
#: given (as unavailable or late) or before its session is closed (None):
#: the one line naming the task that stopped answering, or None when all do.
Diagnose = Callable[[tf.errors.OpError | None], 'str | None']

K = TypeVar('K')
V = TypeVar('V')
T = TypeVar('T')


class LRUDict(OrderedDict[K, V]):
    """A dict that keeps its ``size`` most recently used entries."""

    def __init__(self, size: int):
        super().__init__()
        self.size = size

    @overload
    def get(self, key: K, default: None = None) -> V | None: ...
    @overload
    def get(self, key: K, default: T) -> V | T: ...

    def get(self, key: K, default: T | None = None) -> V | T | None:
        if key in self:
            self.move_to_end(key)
            return self[key]
        return default

    def __setitem__(self, key: K, value: V) -> None:
        super().__setitem__(key, value)
        if len(self) > self.size:
            self.popitem(last=False)


#: Set on an ``OpError`` that a managed session raised, so that a hint can
#: tell an error of tfmagic's session from one of a session the user made.
RAISED_IN_MANAGED_SESSION = '_tfmagic_managed_session'


def raised_in_managed_session(error: BaseException) -> bool:
    """True when ``error`` came from a :class:`ManagedSession`'s run."""
    return getattr(error, RAISED_IN_MANAGED_SESSION, False)


class ClusterUnreachableError(tf.errors.UnavailableError):
    """What a run of the workspace's session raises once a task of its
    cluster stopped answering (in place of TensorFlow's ``UnavailableError``
    or ``DeadlineExceededError``, its cause), and every run after that at
    once: the one line says which task and what to do."""

    def __init__(self, message: str):
        super().__init__(None, None, message)

    def _render_traceback_(self) -> list[str]:
        # IPython shows this instead of the traceback: the cause is a task
        # that stopped, not the line of the cell that noticed.
        return [f'{type(self).__name__}: {self.message}']


class ManagedSession(tf.compat.v1.Session):
    """The workspace's session: calls ``before_run()`` before each call that
    can run ops (``run``, ``partial_run_setup``, ``partial_run``, and the
    callables of ``make_callable`` and ``_make_callable_from_options``, which
    TF1 Keras calls directly), marks the ``OpError``s it raises and hands
    them to ``on_error``, which may give another error to raise instead."""

    def __init__(self, before_run: Callable[[], None], graph: tf.Graph,
                 config: tf.compat.v1.ConfigProto | None = None, target: str = '',
                 on_error: Callable[[tf.errors.OpError], tf.errors.OpError | None] | None = None,
                 timeout_ms: Callable[[], int] | None = None):
        super().__init__(target, graph=graph, config=config)
        self._before_run = before_run
        self._on_error = on_error
        self._timeout_ms = timeout_ms

    def run(self, fetches: Any, feed_dict: Any = None,
            options: tf.compat.v1.RunOptions | None = None, run_metadata: Any = None) -> Any:
        own_deadline = options is not None and options.timeout_in_ms > 0
        with self._marking_errors(own_deadline):
            self._before_run()
            return super().run(fetches, feed_dict, self.with_timeout(options), run_metadata)

    def with_timeout(self, options: tf.compat.v1.RunOptions | None = None
                     ) -> tf.compat.v1.RunOptions | None:
        """``options`` with the workspace's operation timeout, unless they
        set one of their own; ``options`` as they are without a timeout."""
        if self._timeout_ms is None or (options is not None and options.timeout_in_ms > 0):
            return options
        timed = tf.compat.v1.RunOptions()
        if options is not None:
            timed.CopyFrom(options)
        timed.timeout_in_ms = self._timeout_ms()
        return timed

    def partial_run_setup(self, *args: Any, **kwargs: Any) -> Any:
        with self._marking_errors():
            self._before_run()
            return super().partial_run_setup(*args, **kwargs)

    def partial_run(self, *args: Any, **kwargs: Any) -> Any:
        with self._marking_errors():
            self._before_run()
            return super().partial_run(*args, **kwargs)

    def make_callable(self, *args: Any, **kwargs: Any) -> Callable[..., Any]:
        return self._wrapped(super().make_callable(*args, **kwargs))

    def _make_callable_from_options(self, *args: Any, **kwargs: Any) -> Callable[..., Any]:
        return self._wrapped(super()._make_callable_from_options(*args, **kwargs))

    def _wrapped(self, call: Callable[..., Any]) -> Callable[..., Any]:
        before_run, marking_errors = self._before_run, self._marking_errors

        def managed_call(*call_args: Any, **call_kwargs: Any) -> Any:
            with marking_errors():
                before_run()
                return call(*call_args, **call_kwargs)
        return managed_call

    @contextlib.contextmanager
    def _marking_errors(self, own_deadline: bool = False) -> Iterator[None]:
        """Mark the errors raised inside; hand them to ``on_error``, except
        a deadline the caller set itself."""
        try:
            yield
        except tf.errors.OpError as err:
            setattr(err, RAISED_IN_MANAGED_SESSION, True)
            instead = None
            if self._on_error is not None and not (
                    own_deadline and isinstance(err, tf.errors.DeadlineExceededError)):
                instead = self._on_error(err)
            if instead is None or instead is err:
                raise
            setattr(instead, RAISED_IN_MANAGED_SESSION, True)
            raise instead from err


class WorkspaceError(RuntimeError):
    """An operation on the workspace that cannot be done in its current state."""


class Workspace:
    """One graph and session, made the defaults for the duration of each cell.

    Outside IPython use :meth:`activate`::

        ws = Workspace()
        with ws.activate():
            v = tf.compat.v1.get_variable('v', [2])
        ws.initialize(ws.variables())
    """

    def __init__(self, config: tf.compat.v1.ConfigProto | None = None):
        self._config = config
        #: The session's target: '' for the in-process session, else the
        #: ``grpc://HOST:PORT`` of a cluster's task (see :meth:`connect`).
        self.target = ''
        #: The cluster spec (job -> task addresses) of that target, if given.
        self.cluster: dict[str, list[str]] | None = None
        #: Seconds any one run on a cluster may take.
        self.operation_timeout = 60.0
        self._placement: Callable[[], DevicePlacement] | None = None
        self._diagnose: Diagnose | None = None
        #: 'graph': cells run in the managed graph and session; 'eager': as plain TF2.
        self.mode: Mode = GRAPH
        self._cell_contexts: list[Callable[[], AbstractContextManager]] = []
        self._reset_listeners: list[Callable[[Workspace], None]] = []
        self._active: contextlib.ExitStack | None = None
        self._auto_init = True
        self._initializing = False
        #: Calls that ran (or could have run) ops in the managed sessions so
        #: far, tfmagic's own included.
        self.runs = 0
        self._new_graph()

    def _new_graph(self) -> None:
        self.graph = tf.Graph()
        # Taken, so a user's name_scope('tfmagic') becomes 'tfmagic_1' and
        # never mixes with tfmagic's own ops, which %tfgraph leaves out.
        self.graph.unique_name(OWN_SCOPE)
        self._session: tf.compat.v1.Session | None = None
        self._known_initialized: set[int] = set()
        self._initialized_checks: dict[int, tf.Tensor] = {}
        self._callables: LRUDict[tuple[int, ...], Callable[..., list]] = LRUDict(
            _CALLABLE_CACHE_SIZE)
        self._own_ops: dict[tuple, Any] = {}
        # Eager mode: the variables made in cells, held weakly, in creation order.
        self._eager: dict[int, weakref.ref[tf.Variable]] = {}
        #: Why the cluster stopped answering; then every run fails at once.
        self.lost: str | None = None
        # Made once per graph: replica_device_setter's round robin goes on
        # from cell to cell, as over a TF1 script's model code.
        self._device_function = self._placement() if self._placement is not None else None
        self._batch_plans: LRUDict[tuple[int, ...], list[list[tf.Variable]]] = LRUDict(
            _CALLABLE_CACHE_SIZE)
        # New variables not yet initialized (see note_created), and those
        # whose initializer failed since the last take_init_failures().
        self._pending: list[tf.Variable] = []
        self._pending_may_hold_values: set[int] = set()
        self._init_failures: dict[int, tuple[tf.Variable, tf.errors.OpError]] = {}

    # -- graph and session ---------------------------------------------------

    @property
    def eager(self) -> bool:
        return self.mode == EAGER

    def set_mode(self, mode: Mode) -> None:
        """Run cells in the managed graph (``'graph'``) or as plain TF2
        (``'eager'``); starts clean (see :meth:`reset`)."""
        if mode not in MODES:
            raise WorkspaceError(f'no mode {mode!r}: {" or ".join(MODES)}')
        if self.remote and mode == EAGER:
            raise WorkspaceError('eager mode runs in this process: %tfconnect local first')
        if self.active and not self.at_root():
            raise WorkspaceError('cannot switch modes inside a scope or another graph; '
                                 'switch at the top level of a cell')
        self.reset(mode=mode)

    @property
    def session(self) -> tf.compat.v1.Session:
        """The session on :attr:`graph`, created on first use, and again if
        user code closed it (``with tf.compat.v1.get_default_session() as s:``
        does); variables then start without values, as in any new session."""
        if self.eager:
            raise WorkspaceError('eager mode has no session: cells run as plain TF2')
        return self._open_session()

    def _open_session(self) -> ManagedSession:
        """The session, replaced (with what is known about it) if closed."""
        if self._session is None or getattr(self._session, '_closed', False):
            self._session = ManagedSession(
                self._before_run, self.graph, self._session_config(), self.target,
                self._cluster_error, self._timeout_ms if self.remote else None)
            self._known_initialized.clear()
            self._callables.clear()
        return self._session

    # -- initializing new variables where they are first used ----------------

    @property
    def auto_init(self) -> bool:
        """Initialize new variables just before the session first runs
        anything after their creation (and after the cell at the latest)."""
        return self._auto_init

    @auto_init.setter
    def auto_init(self, on: bool) -> None:
        self._auto_init = bool(on)
        if not on:
            self._pending.clear()
            self._pending_may_hold_values.clear()

    def note_created(self, var: tf.Variable, *, may_hold_value: bool = False) -> None:
        """A variable was created in the graph: with :attr:`auto_init`, give
        it its initial value before the session next runs anything.

        ``may_hold_value`` marks a variable built on existing ops (from a
        ``VariableDef``): it is asked whether it has a value before its
        initializer is run. Any other one has none: every run of the session
        initializes what was created before it, so nothing can have run
        since this variable's ops were made.
        """
        if self.eager:
            self._eager[id(var)] = weakref.ref(var, self._forget_eager(id(var)))
            return
        if not self.auto_init or getattr(var, 'graph', None) is not self.graph:
            return
        self._pending.append(var)
        if may_hold_value:
            self._pending_may_hold_values.add(id(var))

    def _session_config(self) -> tf.compat.v1.ConfigProto | None:
        if not self.target:
            return self._config
        config = tf.compat.v1.ConfigProto()
        if self._config is not None:
            config.CopyFrom(self._config)
        config.operation_timeout_in_ms = self._timeout_ms()
        # A new session starts clean, as %tfreset promises: the servers keep
        # a shared session's variables for the next one otherwise.
        config.isolate_session_state = True
        return config

    def _timeout_ms(self) -> int:
        return max(1, round(self.operation_timeout * 1000))

    # -- a cluster -----------------------------------------------------------

    @property
    def remote(self) -> bool:
        """True when the session runs on a cluster's task, not in this process."""
        return bool(self.target)

    def connect(self, target: str = '', cluster: dict[str, list[str]] | None = None, *,
                placement: Callable[[], DevicePlacement] | None = None,
                diagnose: Diagnose | None = None) -> None:
        """Run on ``target`` (``''``: in process) and start a new graph and
        session (see :meth:`reset`). Every cell runs under ``placement()``,
        made once per graph (a device function such as
        ``replica_device_setter``'s); ``diagnose`` says whether a run that
        failed as unavailable or late lost the cluster. Whether the target
        answers is the caller's to check (:func:`tfmagic.cluster.connect`)."""
        if self.active and not self.at_root():
            raise WorkspaceError('cannot connect inside a scope or another graph; '
                                 'connect at the top level of a cell')
        self._close_session()  # while it is known how to ask the old target
        self.target, self.cluster = target, cluster
        self._placement, self._diagnose = placement, diagnose
        self.reset()

    def _cluster_error(self, error: tf.errors.OpError) -> tf.errors.OpError | None:
        """Note a task that stopped answering (a run failed as unavailable,
        or took longer than :attr:`operation_timeout`, and ``diagnose``
        names a task) and return the error that says so. Later runs fail
        at once, so that no cell waits that long again."""
        if isinstance(error, ClusterUnreachableError) or not self.remote or not isinstance(
                error, (tf.errors.UnavailableError, tf.errors.DeadlineExceededError)):
            return None
        if self.lost is None:
            self.lost = self._diagnose(error) if self._diagnose is not None else str(error)
            if self.lost is None:  # every task answers: a slow step, not a lost cluster
                return None
        return ClusterUnreachableError(self.lost)

    def _forget_eager(self, key: int) -> Callable[[weakref.ref], None]:
        eager = self._eager

        def forget(ref: weakref.ref) -> None:
            if eager.get(key) is ref:
                del eager[key]
        return forget

    def _before_run(self) -> None:
        if self.lost is not None:
            raise ClusterUnreachableError(self.lost)
        self.runs += 1
        if self._pending and not self._initializing:
            self.initialize_pending()

    def initialize_pending(self) -> None:
        """Initialize the variables noted since the last run, now."""
        pending, self._pending = self._pending, []
        may_hold = self._pending_may_hold_values
        self._pending_may_hold_values = set()
        fresh = [v for v in pending if id(v) not in may_hold]
        self._initializing = True
        try:
            failures = self.initialize(pending, fresh=fresh)
        except BaseException:  # interrupted: the next run tries them again
            self._pending[:0] = pending
            self._pending_may_hold_values |= may_hold
            raise
        finally:
            self._initializing = False
        self._init_failures.update((id(var), (var, err)) for var, err in failures)

    def take_init_failures(self) -> list[tuple[tf.Variable, tf.errors.OpError]]:
        """Variables whose initializer failed and that still have no value
        (a cell may have initialized them itself since), each with its error;
        forgotten once taken."""
        failures, self._init_failures = list(self._init_failures.values()), {}
        if not failures:
            return []
        still = self.initialized([var for var, _ in failures])
        return [failure for failure, ok in zip(failures, still, strict=True) if not ok]

    @property
    def active(self) -> bool:
        return self._active is not None

    def add_cell_context(self, factory: Callable[[], AbstractContextManager]) -> None:
        """Enter ``factory()`` inside the graph and session for every cell."""
        self._cell_contexts.append(factory)

    def remove_cell_context(self, factory: Callable[[], AbstractContextManager]) -> None:
        if factory in self._cell_contexts:
            self._cell_contexts.remove(factory)

    def on_reset(self, listener: Callable[[Workspace], None]) -> None:
        """Call ``listener(workspace)`` after every :meth:`reset`."""
        self._reset_listeners.append(listener)

    def enter(self) -> None:
        """Make the graph and session the defaults, until :meth:`leave`.

        Idempotent: entering an active workspace first leaves it, so a cell
        whose ``post_run_cell`` never came cannot leave contexts stacked up.
        """
        self.leave()
        stack = contextlib.ExitStack()
        try:
            if not self.eager:
                stack.enter_context(self.graph.as_default())
                stack.enter_context(self.session.as_default())
            if self._device_function is not None:
                stack.enter_context(self.graph.device(self._device_function))
            for factory in self._cell_contexts:
                stack.enter_context(factory())
        except BaseException:
            stack.close()
            raise
        self._active = stack

    def leave(self) -> None:
        """Restore the defaults :meth:`enter` replaced; no-op when not active."""
        stack, self._active = self._active, None
        if stack is not None:
            stack.close()

    @contextlib.contextmanager
    def activate(self) -> Iterator[Workspace]:
        """``with ws.activate():`` runs a block the way a cell runs."""
        self.enter()
        try:
            yield self
        finally:
            self.leave()

    def at_root(self) -> bool:
        """True when no user scope or other graph is open inside the workspace."""
        if self.eager:
            return tf.executing_eagerly() and not tf.get_current_name_scope()
        if tf.compat.v1.get_default_graph() is not self.graph:
            return False
        with self.graph.as_default():
            return (tf.compat.v1.get_variable_scope().name == ''
                    and self.graph.get_name_scope() == '')

    def reset(self, *, mode: Mode | None = None) -> None:
        """Discard graph, session and everything cached about them (and
        switch to ``mode``, if given).

        When called from inside a cell the new graph is entered in place of the
        old one, so the rest of the cell runs in it.
        """
        was_active = self.active
        if was_active and not self.at_root():
            raise WorkspaceError(
                'cannot reset the graph inside a scope or another graph; '
                'reset at the top level of a cell')
        self.leave()
        self._close_session()
        if mode is not None:
            self.mode = mode
        self._new_graph()
        for listener in list(self._reset_listeners):
            listener(self)
        if was_active:
            self.enter()

    def close(self) -> None:
        self.leave()
        self._close_session()

    def _close_session(self) -> None:
        session, self._session = self._session, None
        if session is None:
            return
        if session.sess_str and (self.lost is not None or (
                self._diagnose is not None and self._diagnose(None) is not None)):
            abandon(session)
        else:
            session.close()

    # -- variables -----------------------------------------------------------

    def variables(self) -> list[tf.Variable]:
        """Global and local variables of the graph, each once, in creation
        order; in eager mode, those made in cells that are still alive."""
        if self.eager:
            return [var for ref in list(self._eager.values()) if (var := ref()) is not None]
        global_vars = self.graph.get_collection(tf.compat.v1.GraphKeys.GLOBAL_VARIABLES)
        local_vars = self.graph.get_collection(tf.compat.v1.GraphKeys.LOCAL_VARIABLES)
        if not local_vars:
            return global_vars
        seen = set(map(id, global_vars))
        return global_vars + [v for v in local_vars if id(v) not in seen]

    def holds_variables(self) -> bool:
        """Whether :meth:`variables` would list any, without listing them
        (a freed eager variable leaves the registry as it goes)."""
        if self.eager:
            return bool(self._eager)
        return bool(self.graph.get_collection_ref(tf.compat.v1.GraphKeys.GLOBAL_VARIABLES)
                    or self.graph.get_collection_ref(tf.compat.v1.GraphKeys.LOCAL_VARIABLES))

    def trainable_ids(self) -> set[int]:
        if self.eager:
            return {id(var) for var in self.variables() if var.trainable}
        return {id(v) for v in self.graph.get_collection(
            tf.compat.v1.GraphKeys.TRAINABLE_VARIABLES)}

    def initialized(self, variables: Sequence[tf.Variable]) -> list[bool]:
        """Whether each variable has a value in :attr:`session`.

        A variable once initialized stays so for the session's life, so only
        variables not yet seen initialized are asked about, in one run. An
        eager variable always has its value.
        """
        if self.eager:
            return [True] * len(variables)
        self._open_session()  # a closed one is replaced: nothing known holds for the new one
        known = self._known_initialized
        flags = [id(v) in known for v in variables]
        if all(flags):
            return flags
        unknown = [v for v, flag in zip(variables, flags, strict=True) if not flag]
        checks = self.run_cached([self._initialized_check(v) for v in unknown])
        known.update(id(v) for v, flag in zip(unknown, checks, strict=True) if flag)
        return [id(v) in known for v in variables]

    def mark_initialized(self, variables: Iterable[tf.Variable]) -> None:
        """Record that ``variables`` were given values (by a restore, say)."""
        self._known_initialized.update(id(v) for v in variables)

    def _initialized_check(self, var: tf.Variable) -> tf.Tensor:
        # Resource variables built in graph mode carry a VarIsInitializedOp
        # from their construction; reusing it keeps the graph unchanged.
        # Reference variables need one op, made once per variable.
        check = getattr(var, '_is_initialized_op', None)
        if isinstance(check, tf.Tensor) and check.graph is self.graph:
            return check
        check = self._initialized_checks.get(id(var))
        if check is None:
            # Possibly made inside a user's run (see _before_run): free of
            # the control dependencies and name scope open there; under
            # tfmagic's own scope, which %tfgraph leaves out.
            with (self.graph.as_default(), self.graph.name_scope(OWN_SCOPE + '/'),
                  tf.control_dependencies(None)):
                check = tf.compat.v1.is_variable_initialized(var)
            self._initialized_checks[id(var)] = check
        return check

    def initialize(self, variables: Sequence[tf.Variable], *,
                   fresh: Iterable[tf.Variable] = ()
                   ) -> list[tuple[tf.Variable, tf.errors.OpError]]:
        """Run the initializer of each variable that has no value yet.

        Variables already holding a value keep it. Returns the variables whose
        initializer failed (for example one that reads another uninitialized
        variable), each with its error; the others are initialized.

        ``fresh`` names those of ``variables`` known to have no value: their
        ops were made since the session last ran (see :meth:`note_created`).
        They are not asked about, which saves a run over all of them.
        """
        fresh_ids = set(map(id, fresh))
        unknown = [v for v in variables if id(v) not in fresh_ids]
        has_value = {}
        if unknown:
            has_value = dict(zip(map(id, unknown), self.initialized(unknown), strict=True))
        pending = [v for v in variables if not has_value.get(id(v), False)]
        if not pending:
            return []
        try:
            self.session.run([v.initializer for v in pending])
        except tf.errors.OpError:
            # One failing initializer aborts the whole run: retry one by one,
            # in creation order, so each variable's dependencies come first.
            failures = []
            for var in pending:
                try:
                    self.session.run(var.initializer)
                except tf.errors.OpError as err:
                    failures.append((var, err))
                else:
                    self._known_initialized.add(id(var))
            return failures
        self._known_initialized.update(id(v) for v in pending)
        return []

    def fetch_values(self, variables: Sequence[tf.Variable],
                     max_batch_bytes: int = MAX_FETCH_BYTES) -> list[np.ndarray]:
        """The current values of ``variables``, read in as few runs as the
        byte bound allows; each batch's callable is reused while the same
        variables are asked for again."""
        return list(self.iter_values(variables, max_batch_bytes))

    def iter_values(self, variables: Sequence[tf.Variable],
                    max_batch_bytes: int = MAX_FETCH_BYTES) -> Iterator[np.ndarray]:
        """:meth:`fetch_values` one batch at a time, as they are consumed."""
        if self.eager:
            for var in variables:
                yield var.numpy()
            return
        key = (max_batch_bytes, *map(id, variables))
        batches = self._batch_plans.get(key)
        if batches is None:
            batches = self._batch_plans[key] = list(_batches(variables, max_batch_bytes))
        for batch in batches:
            yield from self.run_cached(batch)

    def own_ops(self, key: tuple, build: Callable[[], T]) -> T:
        """What ``build()`` makes in the graph, made once per ``key`` for the
        graph's life (ops cannot be taken out of it): under tfmagic's own
        name scope, placed only where ``build`` says, free of the user's
        control dependencies, so that a magic called again adds no op."""
        made = self._own_ops.get(key)
        if made is None:
            with (self.graph.as_default(), self.graph.device(None),
                  self.graph.name_scope(OWN_SCOPE + '/'), tf.control_dependencies(None)):
                made = self._own_ops[key] = build()
        return made

    def run_cached(self, fetches: list) -> list:
        """``session.run(fetches)`` through a callable made once per fetch list."""
        session = self._open_session()  # first: replacing a closed one drops its callables
        key = tuple(map(id, fetches))
        run = self._callables.get(key)
        if run is None:
            run = self._callables[key] = session.make_callable(
                list(fetches), accept_options=self.remote)
        return run(options=session.with_timeout()) if self.remote else run()


def abandon(session: tf.compat.v1.Session) -> None:
    """Let go of a session on a cluster that stopped answering without
    closing it: closing asks every task the session used, and retries one
    that does not answer until the operation timeout. Marked closed, it is
    freed when collected, with no call to the cluster; its tasks drop it."""
    session._closed = True  # BaseSession's own flag, which close() and __del__ read


def variable_nbytes(var: tf.Variable) -> int:
    """Bytes of the variable's value, 0 when its shape is not fully known."""
    shape = var.shape
    if not shape.is_fully_defined():
        return 0
    return math.prod(shape.as_list()) * var.dtype.base_dtype.size


def _batches(variables: Iterable[tf.Variable], max_bytes: int) -> Iterator[list[tf.Variable]]:
    batch: list[tf.Variable] = []
    size = 0
    for var in variables:
        nbytes = variable_nbytes(var)
        if batch and size + nbytes > max_bytes:
            yield batch
            batch, size = [], 0
        batch.append(var)
        size += nbytes
    if batch:
        yield batch
