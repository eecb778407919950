"""The IPython magics: parse arguments, call the API, return what to display."""

from __future__ import annotations

import argparse
import ast
import contextlib
import os
import re
import shlex
import traceback
from collections.abc import Iterator
from typing import TYPE_CHECKING, Protocol

import tensorflow as tf
from IPython.core.error import UsageError
from IPython.core.magic import (
    MAGIC_OUTPUT_CAN_BE_SILENCED,
    Magics,
    cell_magic,
    line_magic,
    magics_class,
    output_can_be_silenced,
)
from IPython.core.magic_arguments import argument, magic_arguments
from traitlets import Bool, Enum, Float, Int, Unicode, observe

from . import checkpoints, cluster, graphview, hints, tables
from .cellhooks import CellHooks
from .checkpoints import Checkpointer
from .panel import VariableBrowser
from .wording import PREFIX, human_bytes, plural
from .workspace import MODES, WorkspaceError

if TYPE_CHECKING:
    import pandas as pd
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets import Bunch

# TensorFlow's rule for a name scope opened at the root of a graph
# (tensorflow/python/framework/ops.py, _VALID_OP_NAME_REGEX), applied to each
# '/'-separated part so that 'a//b' and a trailing '/' are refused too.
_SCOPE_PART = re.compile(r'^[A-Za-z0-9.][A-Za-z0-9_.\->]*$')
SCOPE_RULE = ("a scope name is one or more parts joined by '/', each starting with a "
              "letter, digit or '.', followed by letters, digits or any of _ . - >")

_REUSE_MODES = {'true': True, 'auto': tf.compat.v1.AUTO_REUSE}
#: The end of a line that silences a magic's output: ``;``, then maybe a comment.
_SILENCING_END = re.compile(r';\s*(#.*)?$')


def check_scope_name(name: str, what: str = 'scope') -> str:
    """``name`` if TensorFlow accepts it as a scope name, else a UsageError."""
    if not name or not all(_SCOPE_PART.match(part) for part in name.split('/')):
        raise UsageError(f'invalid {what} name {name!r}: {SCOPE_RULE}')
    return name


@contextlib.contextmanager
def scope_context(scope: str, *, name_scope_only: bool = False,
                  reuse: object = None) -> Iterator[None]:
    """Enter ``scope`` as a name scope (``name_scope_only``) or a variable
    scope, by name, at the root: ``'enc/'`` re-enters the name scope
    ``enc`` that an earlier cell opened, where ``'enc'`` would open
    ``enc_1``, as re-entering a captured ``VariableScope`` does."""
    with contextlib.ExitStack() as stack:
        if not name_scope_only:
            stack.enter_context(tf.compat.v1.variable_scope(
                scope, reuse=reuse, auxiliary_name_scope=False))
        stack.enter_context(tf.name_scope(scope + '/'))
        yield


class ArgumentMagic(Protocol):
    """A magic decorated with ``@magic_arguments()``, which gives it its parser."""

    __name__: str
    parser: argparse.ArgumentParser


def parse(magic: ArgumentMagic, line: str) -> argparse.Namespace:
    """Parse a magic's arguments with shell quoting: ``'a b'`` is one argument
    without its quotes (IPython's own splitter keeps them). For a magic whose
    output a trailing ``;`` silences, that ``;`` (and a comment after it) is
    not an argument: IPython hides the result, but passes the ``;`` on."""
    if getattr(magic, MAGIC_OUTPUT_CAN_BE_SILENCED, False):
        line = _SILENCING_END.sub('', line)
    try:
        argv = shlex.split(line)
    except ValueError as err:  # "No closing quotation"
        raise UsageError(f'%{magic.__name__}: {err} in {line!r}') from None
    return magic.parser.parse_args(argv)


@contextlib.contextmanager
def locals_cleared_on_error() -> Iterator[None]:
    """Clear the local variables of the frames a checkpoint error was raised
    through: IPython keeps the last traceback, whose frames would keep the
    variables a failed save or restore was given alive after the user drops
    them (eager mode). The message is the whole story anyway
    (``_render_traceback_``)."""
    try:
        yield
    except checkpoints.CheckpointError as err:
        seen: set[int] = set()
        error: BaseException | None = err
        while error is not None and id(error) not in seen:  # and TensorFlow's error within
            seen.add(id(error))
            traceback.clear_frames(error.__traceback__)
            error = error.__cause__ or error.__context__
        raise


def run_cell_body(shell: InteractiveShell, cell: str) -> object:
    """Run ``cell`` in the user namespace as a cell body and return the value
    of its last expression (``None`` if it has none), which IPython then
    displays as the cell's result -- the approach of ``%%time``."""
    tree = shell.transform_ast(shell.compile.ast_parse(shell.transform_cell(cell)))
    last = None
    if tree.body and isinstance(tree.body[-1], ast.Expr):
        last = ast.Expression(tree.body.pop().value)
    filename = shell.compile.cache(cell)
    namespace = shell.user_ns
    exec(shell.compile(tree, filename, 'exec'), namespace)
    if last is None:
        return None
    return eval(shell.compile(last, filename, 'eval'), namespace)  # type: ignore[arg-type]  # an AST compiles too (typeshed says str)


@magics_class
class TFMagic(Magics):
    """tfmagic's magics and configuration (``%config TFMagic``)."""

    shell: InteractiveShell  # always given, where Magics allows None

    auto_init = Bool(True, help=(
        'Initialize new variables just before the session first runs anything '
        'after their creation (in the cell that creates them). Turn off to see '
        'TensorFlow\'s "uninitialized value" error.')).tag(config=True)

    checkpoint_dir = Unicode('checkpoints', help=(
        'Directory of %saveckpt\'s default prefix (DIR/model) and of %restoreckpt\'s '
        'and %ckpts\' default. Any tf.io.gfile path: local, ram://, gs://, s3://.')
    ).tag(config=True)

    max_to_keep = Int(5, min=0, help=(
        'How many checkpoints of one prefix %saveckpt keeps (0 keeps all).')).tag(config=True)

    operation_timeout = Float(60.0, min=0.001, help=(
        'Seconds any one run on a cluster (%tfconnect) may take before it fails; a task '
        'that stops answering fails the next cell or magic within about that. Applies '
        'from the next run (callables made with make_callable keep the value of when '
        'the session was made).')
    ).tag(config=True)

    mode = Enum(MODES, default_value='graph', help=(
        "'graph': cells run in tfmagic's managed tf.compat.v1 graph and session; 'eager': "
        'cells run as plain TF2 (Keras 3, tf.function, tf.data) and tfmagic still tracks '
        'every variable they make. Switching starts clean, as %tfreset.')).tag(config=True)

    def __init__(self, shell: InteractiveShell, hooks: CellHooks, checkpointer: Checkpointer):
        # Set first: Magics.__init__ loads values set with %config earlier
        # (before a %reload_ext, say), which calls the observers below.
        self.hooks = hooks
        self.workspace = hooks.workspace
        self.tracker = hooks.tracker
        self.checkpointer = checkpointer
        #: The local cluster %tfconnect --local-cluster started, if connected to it.
        self.local_cluster: cluster.LocalCluster | None = None
        super().__init__(shell=shell)
        self.workspace.auto_init = self.auto_init
        self.workspace.operation_timeout = self.operation_timeout

    @observe('mode')
    def _mode_changed(self, change: Bunch) -> None:
        if change['new'] == self.workspace.mode:
            return
        try:
            self._switch_mode(change['new'])
        except UsageError:
            self.set_trait('mode', change['old'])  # the workspace's: this call returns at once
            raise

    def _switch_mode(self, mode: str) -> None:
        dropped, was_eager = len(self.tracker.groups()), self.workspace.eager
        try:
            self.workspace.set_mode(mode)  # type: ignore[arg-type]  # one of MODES, checked by the caller
        except WorkspaceError as err:
            raise UsageError(f'%tfmode: {err}') from None
        print(hints.mode_switched(mode, dropped, untracked=was_eager))

    @observe('operation_timeout')
    def _operation_timeout_changed(self, change: Bunch) -> None:
        self.workspace.operation_timeout = change['new']

    @observe('auto_init')
    def _auto_init_changed(self, change: Bunch) -> None:
        self.workspace.auto_init = change['new']

    @output_can_be_silenced  # a trailing ';' (a comment may follow) hides the result
    @magic_arguments()
    @argument('scope', help='variable scope (or name scope) to run the cell in, e.g. layer1')
    @argument('--reuse', nargs='?', const='true', choices=sorted(_REUSE_MODES),
              help="share variables: 'true' (default when the flag is given) returns "
                   "existing ones only, 'auto' creates missing ones (AUTO_REUSE)")
    @argument('--name-scope', action='store_true',
              help='use tf.name_scope, which get_variable ignores, instead of variable_scope')
    @cell_magic
    def tfscope(self, line: str, cell: str) -> object:
        """Run the cell inside a TensorFlow variable scope (or name scope).

        A later cell naming the same SCOPE re-enters it: its variables and ops
        get the same prefix (TensorFlow's usual `_1` goes on a name that is
        taken, never on the scope). A trailing '/' is accepted. The cell's
        last expression is displayed as in a plain cell. Examples::

            %%tfscope layer1
            w = tf.compat.v1.get_variable('w', [3, 3])     # layer1/w

            %%tfscope layer1 --reuse
            w_again = tf.compat.v1.get_variable('w')       # the same layer1/w
        """
        args = parse(self.tfscope, line)
        scope = check_scope_name(args.scope.removesuffix('/'))
        if args.name_scope and args.reuse:
            raise UsageError('--reuse applies to variable scopes; drop it or drop --name-scope')
        if self.workspace.eager:
            if args.reuse:
                raise UsageError('--reuse shares get_variable variables, which eager mode does '
                                 'not have: share a variable by passing the object itself')
            with tf.name_scope(scope):
                return run_cell_body(self.shell, cell)
        with scope_context(scope, name_scope_only=args.name_scope,
                           reuse=_REUSE_MODES.get(args.reuse)):
            return run_cell_body(self.shell, cell)

    @magic_arguments()
    @argument('pattern', nargs='?', help="glob on the variable name, e.g. 'layer1/*'")
    @argument('--scope', help='only variables in this scope or its sub-scopes')
    @argument('--trainable', action='store_true', help='only trainable variables')
    @argument('--stats', action='store_true',
              help='add size, nbytes, min, max, mean and std of each value')
    @argument('--shards', action='store_true',
              help="list a partitioned variable's parts instead of its one row")
    @line_magic
    def vars(self, line: str) -> pd.DataFrame:
        """List the managed graph's variables as a DataFrame, sorted by name.

        Columns: name, scope, shape, dtype, trainable, created_by, created_in,
        reuses, reused_in, reuse_status, initialized, partitions, slot_of,
        device (and the statistics with --stats). A partitioned variable is
        one row with its full shape (--shards lists its parts); an optimizer
        slot names its variable in slot_of. Examples::

            %vars
            %vars 'layer1/*' --stats
            %vars --scope layer1 --trainable
            %vars 'emb*' --shards
        """
        args = parse(self.vars, line)
        scope = args.scope
        if scope is not None:
            scope = check_scope_name(scope.rstrip('/'), '--scope')
        return tables.list_variables(self.tracker, args.pattern, scope,
                                     args.trainable, args.stats, args.shards)

    @magic_arguments()
    @line_magic
    def tfreset(self, line: str) -> None:
        """Start over: a new graph and session; every variable and record is dropped.

        Use it when re-running cells made "Variable ... already exists" errors
        or duplicate variables (foo, foo_1).
        """
        parse(self.tfreset, line)
        count = len(self.tracker.groups())
        try:
            self.workspace.reset()
        except WorkspaceError as err:
            raise UsageError(f'%tfreset: {err}') from None
        if self.workspace.eager:
            print(f'{PREFIX}{plural(count, "variable")} no longer tracked (eager mode: the '
                  'Python names that hold them still do); new ones are.')
        else:
            print(f'{PREFIX}new graph and session; {plural(count, "variable")} dropped.')

    @magic_arguments()
    @argument('mode', nargs='?', choices=MODES, help="'graph' (the default) or 'eager'")
    @line_magic
    def tfmode(self, line: str) -> None:
        """Show or switch how cells run: 'graph' (tfmagic's managed
        tf.compat.v1 graph and session, the default) or 'eager' (plain TF2:
        Keras 3's fit and predict, tf.function, tf.data, .numpy()).

        In eager mode tfmagic still tracks every variable a cell makes,
        tf.Variable, Keras layers, optimizers and metrics, and tf.Module:
        %vars, %tfpanel and the checkpoint magics work on them. Switching
        starts clean, as %tfreset, and says so. Same as
        %config TFMagic.mode = 'eager'. Examples::

            %tfmode eager
            %tfmode
        """
        args = parse(self.tfmode, line)
        if args.mode is None:
            print(f'{PREFIX}{self.workspace.mode} mode.')
        elif args.mode == self.workspace.mode:
            print(f'{PREFIX}already in {args.mode} mode.')
        else:
            self._switch_mode(args.mode)
            self.mode = args.mode  # the workspace's now: no second switch

    @magic_arguments()
    @argument('target', nargs='?', metavar='TARGET',
              help="grpc://HOST:PORT of a TensorFlow server task, or 'local' for the "
                   'in-process session (the default)')
    @argument('--cluster', metavar='SPEC',
              help='cluster spec, JSON text or a JSON file: {"ps": ["HOST:PORT", ...], '
                   '"worker": [...]}; cells then place variables on the ps tasks')
    @argument('--local-cluster', type=int, metavar='N',
              help='start N ps tasks and one worker on 127.0.0.1 and connect to the worker')
    @line_magic
    def tfconnect(self, line: str) -> None:
        """Run the workspace on a TensorFlow cluster, or back in this process.

        Connecting starts a new graph and session (as %tfreset). With a
        cluster spec every cell runs under
        tf.compat.v1.train.replica_device_setter(cluster=SPEC), so variables
        go to the ps tasks as TF1 training scripts placed them; %vars shows
        where in its device column. A call to the cluster fails after
        TFMagic.operation_timeout seconds (default 60). Without arguments,
        shows where the workspace runs. Examples::

            %tfconnect --local-cluster 2
            %tfconnect grpc://10.0.0.5:2222 --cluster cluster.json
            %tfconnect local

        TensorFlow servers have no authentication: never let a machine you
        do not trust reach their ports. A local cluster's tasks are stopped
        by %tfconnect local, %unload_ext and the kernel's exit.
        """
        args = parse(self.tfconnect, line)
        ws = self.workspace
        if ws.eager and (args.target is not None or args.local_cluster is not None):
            raise UsageError('%tfconnect runs the managed graph on a cluster; eager mode always '
                             'runs in this process: %tfmode graph first')
        if args.target is None and args.local_cluster is None:
            if args.cluster:
                raise UsageError('--cluster describes the cluster of a TARGET: '
                                 '%tfconnect grpc://HOST:PORT --cluster SPEC')
            print(hints.show_connection(ws.target, ws.cluster, self._local_pids(), ws.lost))
            return
        if args.local_cluster is not None and (args.target or args.cluster):
            raise UsageError('--local-cluster makes its own target and cluster: give it alone')
        if ws.active and not ws.at_root():
            raise UsageError('%tfconnect: connect at the top level of a cell, '
                             'not inside a scope or another graph')
        started = None
        spec: cluster.ClusterSpec | None
        try:
            if args.local_cluster is not None:
                if args.local_cluster < 1:
                    raise UsageError('--local-cluster needs 1 or more ps tasks')
                started = cluster.start_local_cluster(args.local_cluster)
                target, spec = started.target, started.spec
            else:
                target = cluster.parse_target(args.target)
                spec = cluster.parse_cluster_spec(args.cluster) if args.cluster else None
            dropped = len(self.tracker.groups())
            cluster.connect(ws, target, spec,
                            timeout=min(cluster.CONNECT_TIMEOUT, self.operation_timeout))
        except BaseException as err:
            if started is not None:
                started.stop()
            if isinstance(err, cluster.ClusterError):
                raise UsageError(f'%tfconnect: {err}') from None
            raise
        previous, self.local_cluster = self.local_cluster, started
        stopped = len(previous.processes) if previous is not None else 0
        if previous is not None:
            previous.stop()
        print(hints.connected(target, spec, dropped, self._local_pids(), stopped))

    def _local_pids(self) -> list[int]:
        return list(self.local_cluster.pids.values()) if self.local_cluster else []

    def stop_local_cluster(self) -> None:
        """Stop the local cluster %tfconnect started, if any."""
        local, self.local_cluster = self.local_cluster, None
        if local is not None:
            local.stop()

    @magic_arguments()
    @line_magic
    def tfpanel(self, line: str) -> pd.DataFrame | VariableBrowser:
        """Show a live browser of the variables: scopes as a tree, a filter,
        details with statistics and a histogram, and the checkpoints with
        Save and Restore. It refreshes itself after every cell.

        Click a scope to open or close it. With the tree focused, Up/Down
        move the selection, Right opens a scope, Left closes it or goes to
        its parent, Enter opens or closes it (Shift+Enter still runs the
        cell). Marks: ↻ shared by get_variable(reuse=True),
        ⊘ tf.Variable (never shared), ◇ optimizer state (slots under their
        variable); ×N parts is one partitioned variable. A saved notebook
        shows a snapshot of the tree where there is no kernel.
        """
        parse(self.tfpanel, line)
        if getattr(self.shell, 'kernel', None) is None:  # terminal IPython: no widgets
            print(hints.PANEL_NEEDS_JUPYTER)
            return tables.list_variables(self.tracker)
        return self.open_panel()

    def open_panel(self) -> VariableBrowser:
        """The panel ``%tfpanel`` shows in Jupyter. A panel made again by the
        same notebook cell replaces (closes) the one it made before, whose
        output the front end has just cleared."""
        running = getattr(self.shell.displayhook, 'exec_result', None)
        cell_id = getattr(running.info, 'cell_id', None) if running is not None else None
        return VariableBrowser(self.tracker, self.checkpointer, self, self.hooks,
                               cell_id=cell_id)

    @output_can_be_silenced
    @magic_arguments()
    @argument('scope', nargs='?', default='',
              help='draw this scope only (default: the whole graph)')
    @argument('--depth', type=int, default=1, metavar='N',
              help='levels of scopes shown below SCOPE: those above level N are open boxes, '
                   'those at level N closed boxes with their counts (default 1)')
    @argument('--ops', action='store_true',
              help='draw each operation in the open boxes (default: one count per box)')
    @argument('--save', metavar='FILE', help='also write the picture to FILE: .svg, .png or .pdf')
    @line_magic
    def tfgraph(self, line: str) -> graphview.Drawing:
        """Draw the graph, grouped by scope, as a picture that stays in the notebook.

        Variables are drawn with their marks (↻ shared, ⊘ tf.Variable, ◇
        optimizer state, ×N parts) and the cell that made them; their own
        ops (initializer, assign, reads) are part of them. An arrow joins
        two nodes one or more tensors flow between (the number says how
        many); a dashed arrow leaves a shared variable for another scope.
        Laid out by Graphviz's dot. Examples::

            %tfgraph
            %tfgraph --depth 2 --ops
            %tfgraph encoder --save encoder.svg
        """
        args = parse(self.tfgraph, line)
        if self.workspace.eager:
            raise UsageError('eager mode has no graph to draw: %tfmode graph, or draw a '
                             'tf.function\'s graph with TensorBoard')
        if args.depth < 1:
            raise UsageError('--depth must be 1 or more')
        scope = args.scope.rstrip('/')
        if scope:
            check_scope_name(scope)
        fmt = None
        if args.save:
            fmt = os.path.splitext(args.save)[1][1:].lower()
            if fmt not in graphview.FORMATS:
                raise UsageError(f'--save {args.save!r}: the name must end in '
                                 + ', '.join(f'.{f}' for f in graphview.FORMATS))
        try:
            drawn, source = graphview.picture_and_source(self.tracker, scope, args.depth,
                                                         args.ops)
            svg = graphview.render(source)
            data = svg if fmt in (None, 'svg') else graphview.render(source, fmt)
        except graphview.GraphError as err:
            raise UsageError(str(err)) from None
        if args.save:
            try:
                with open(os.path.expanduser(args.save), 'wb') as out:
                    out.write(data)
            except OSError as err:
                raise UsageError(f'--save {args.save!r}: {err.strerror or err}') from None
            print(f'{PREFIX}wrote {args.save} ({human_bytes(len(data))})')
        return graphview.Drawing(svg.decode(), drawn.summary())

    # -- checkpoints -------------------------------------------------------------

    @magic_arguments()
    @argument('prefix', nargs='?',
              help='checkpoint path prefix (default: TFMagic.checkpoint_dir/model)')
    @argument('--step', type=int, help='save as PREFIX-STEP')
    @argument('--vars', dest='pattern', metavar='PATTERN',
              help="only variables whose name matches this glob, e.g. 'layer1/*'")
    @argument('--keep', type=int, metavar='K',
              help='keep the newest K checkpoints of PREFIX (default TFMagic.max_to_keep; 0: all)')
    @line_magic
    def saveckpt(self, line: str) -> None:
        """Save the variables as a TensorFlow checkpoint (what tf.compat.v1.train.Saver writes).

        Writes PREFIX[-STEP].index, .data-*-of-*, .meta and updates the
        directory's `checkpoint` file; keeps the newest K checkpoints of PREFIX.
        A prefix holding a checkpoint of other variables is never overwritten.
        Examples::

            %saveckpt
            %saveckpt checkpoints/net --step 100 --keep 3
            %saveckpt encoder/enc --vars 'encoder/*'
        """
        args = parse(self.saveckpt, line)
        if args.step is not None and args.step < 0:
            raise UsageError('--step must be 0 or more')
        keep = self.max_to_keep if args.keep is None else args.keep
        if keep < 0:
            raise UsageError('--keep must be 0 (keep all) or more')
        prefix = args.prefix or checkpoints.default_prefix(self.checkpoint_dir)
        with locals_cleared_on_error():
            print(self.checkpointer.save(prefix, step=args.step, pattern=args.pattern, keep=keep))

    @magic_arguments()
    @argument('path', nargs='?', metavar='PREFIX|DIR|FILE',
              help='a checkpoint prefix, a directory for its latest checkpoint, or a Keras '
                   '.weights.h5 / .keras file (default: the latest in TFMagic.checkpoint_dir)')
    @argument('--map', dest='mapping', nargs='+', action='extend', default=[],
              metavar='OLD=NEW',
              help="rename checkpoint names or scopes into the graph, e.g. old_net=net; "
                   "'auto' maps by evidence, as %%mapckpt shows")
    @argument('--allow-missing', action='store_true',
              help='restore the variables that match and report the rest')
    @line_magic
    def restoreckpt(self, line: str) -> None:
        """Restore variables from a checkpoint, after checking that it fits.

        Every key, shape and dtype is compared with the graph first (after
        --map renaming); on any mismatch nothing changes and each problem is
        listed. --map auto maps the keys as %mapckpt does, and stops on any
        key it cannot map for sure. A Keras weight file's keys are placed by
        the live Keras model. Examples::

            %restoreckpt
            %restoreckpt checkpoints/model-100
            %restoreckpt old_run/ --map encoder=enc --allow-missing
            %restoreckpt tf1_model/model.ckpt --map auto
            %restoreckpt model.weights.h5
        """
        args = parse(self.restoreckpt, line)
        source, mapping, auto = self._mapped_source(args.path, args.mapping)
        with locals_cleared_on_error():
            print(self.checkpointer.restore(source, mapping=mapping, auto=auto,
                                            allow_missing=args.allow_missing))

    def _mapped_source(self, path: str | None, pairs: list[str]
                       ) -> tuple[checkpoints.Source, dict[str, str], bool]:
        """The checkpoint named by ``path`` and the ``--map`` arguments:
        ``OLD=NEW`` pairs, or ``auto``."""
        if path is None and len(pairs) > 1 and '=' not in pairs[-1] and pairs[-1] != 'auto':
            path = pairs.pop()  # --map a=b PREFIX: the prefix, not a pair
        auto = 'auto' in pairs
        if auto and len(pairs) > 1:
            raise UsageError('--map takes auto or OLD=NEW pairs, not both')
        try:
            mapping = {} if auto else checkpoints.parse_mapping(pairs)
        except ValueError as err:
            raise UsageError(str(err)) from None
        # The new names must be names a graph can have; the old ones are the
        # checkpoint's, which may also start with _ (TF2 object paths: _kernel).
        for old, new in mapping.items():
            if new:
                check_scope_name(new, '--map')
            if old and not all(_SCOPE_PART.match(part.lstrip('_') or '_')
                               for part in old.split('/')):
                raise UsageError(f'invalid --map name {old!r}: {SCOPE_RULE}')
        return checkpoints.resolve_source(path, self.checkpoint_dir), mapping, auto

    @magic_arguments()
    @argument('directory', nargs='?', metavar='DIR',
              help='directory to list (default: TFMagic.checkpoint_dir)')
    @line_magic
    def ckpts(self, line: str) -> pd.DataFrame:
        """List the checkpoints in a directory as a DataFrame.

        Columns: prefix, step, saved_at, size_bytes, variables, latest. Lists
        what the `checkpoint` state file names and any other checkpoint there.
        """
        args = parse(self.ckpts, line)
        return tables.checkpoints_frame(
            checkpoints.list_checkpoints(args.directory or self.checkpoint_dir))

    @magic_arguments()
    @argument('prefix', metavar='PREFIX',
              help='a checkpoint prefix, one of its files, a directory, or a Keras file')
    @argument('--stats', action='store_true',
              help='also read the stored values: size, nbytes, min, max, mean and std of each')
    @line_magic
    def inspectckpt(self, line: str) -> pd.DataFrame:
        """Compare a checkpoint's variables with the graph, as a DataFrame.

        Columns: name, shape, dtype, status ('match', 'missing in graph',
        'missing in checkpoint', 'shape mismatch', 'dtype mismatch'). Reads
        only the checkpoint's index, unless --stats asks for the values'
        statistics (read one tensor at a time). Works on any TF checkpoint:
        a Saver's, a tf.train.Checkpoint's, or a SavedModel's
        variables/variables, or a Keras .weights.h5 or .keras file, whose
        keys (layers/dense/vars/0) are named by the variables of the live
        Keras model they belong to. Examples::

            %inspectckpt checkpoints/model-100
            %inspectckpt checkpoints --stats
            %inspectckpt model.weights.h5
        """
        args = parse(self.inspectckpt, line)
        source = checkpoints.resolve_source(args.prefix, self.checkpoint_dir)
        with locals_cleared_on_error():
            comparison = self.checkpointer.compare(source)
            values = source.values(comparison.key) if args.stats else None
            return tables.inspect_frame(comparison, values, mapped_names=source.keras)

    @magic_arguments()
    @argument('source', metavar='SOURCE',
              help='a checkpoint prefix, one of its files, a directory, or a Keras file')
    @line_magic
    def mapckpt(self, line: str) -> pd.DataFrame:
        """Map a checkpoint's keys onto the workspace's variables, as a DataFrame.

        Columns: key, shape, dtype, variable, how ('exact', 'object path',
        'keras order', 'scope renamed', 'TF1 name', 'unique shape'), status
        ('mapped', 'ambiguous', 'unmatched', 'shape mismatch'); one row per
        key, then one per variable no key maps to. Two variables that fit a
        key equally leave it 'ambiguous': nothing is guessed. Prints the
        --map arguments that reproduce the mapping. Reads only the index.
        Examples::

            %mapckpt tf1_model/model.ckpt
            %mapckpt model.weights.h5
        """
        args = parse(self.mapckpt, line)
        source = checkpoints.resolve_source(args.source, self.checkpoint_dir)
        with locals_cleared_on_error():
            found = self.checkpointer.auto_map(source)
            model = found.placed_by
            print(hints.mapping_summary(found, shlex.quote(str(source)),
                                        found.map_arguments(), model))
            return tables.map_frame(found)

    @magic_arguments()
    @argument('source', metavar='SOURCE',
              help='a checkpoint prefix, one of its files, a directory, or a Keras file')
    @argument('dest', metavar='DEST',
              help='where to write: a checkpoint prefix (tf), or a .weights.h5 file (h5)')
    @argument('--map', dest='mapping', nargs='+', action='extend', default=[],
              metavar='OLD=NEW', help="rename keys or scopes; 'auto' maps as %%mapckpt does")
    @argument('--format', dest='fmt', choices=checkpoints.FORMATS, default='tf',
              help="'tf': a V2 checkpoint Saver reads (default); 'h5': the Keras weight "
                   'file of the live Keras model, for model.load_weights')
    @argument('--force', action='store_true', help='replace DEST if it exists')
    @line_magic
    def convertckpt(self, line: str) -> None:
        """Write a re-keyed copy of a checkpoint, tensor by tensor.

        Keys take the names --map gives them (OLD=NEW pairs, or auto); with
        --format h5 they go where the live Keras model keeps each variable
        (its layers' variables; an optimizer's state is not written, and
        load_weights then keeps the optimizer's own, with a warning).
        Memory stays near the largest tensor. Never overwrites SOURCE, nor
        DEST without --force; the copy is written under a temporary name
        first. Examples::

            %convertckpt tf1/model.ckpt converted/model --map auto
            %convertckpt old/model new/model --map old_net=net
            %convertckpt tf1/model.ckpt model.weights.h5 --map auto --format h5
        """
        args = parse(self.convertckpt, line)
        if len(args.mapping) > 1 and '=' not in args.mapping[-1] and args.mapping[-1] != 'auto':
            raise UsageError('give SOURCE and DEST before --map')
        source, mapping, auto = self._mapped_source(args.source, args.mapping)
        with locals_cleared_on_error():
            print(self.checkpointer.convert(source, args.dest, mapping=mapping, auto=auto,
                                            fmt=args.fmt, force=args.force))
