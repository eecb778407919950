"""The IPython magics: parse arguments, call the API, return what to display."""

from __future__ import annotations

import ast
import re
import shlex

import tensorflow as tf
from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments
from traitlets import Bool, observe

from . import tables
from .cellhooks import CellHooks
from .workspace import WorkspaceError

# TensorFlow's rule for a name scope opened at the root of a graph
# (tensorflow/python/framework/ops.py, _VALID_OP_NAME_REGEX), applied to each
# '/'-separated part so that 'a//b' and a trailing '/' are refused too.
_SCOPE_PART = re.compile(r'^[A-Za-z0-9.][A-Za-z0-9_.\->]*$')
SCOPE_RULE = ("a scope name is one or more parts joined by '/', each starting with a "
              "letter, digit or '.', followed by letters, digits or any of _ . - >")

_REUSE_MODES = {'true': True, 'auto': tf.compat.v1.AUTO_REUSE}


def check_scope_name(name: str, what: str = 'scope') -> str:
    """``name`` if TensorFlow accepts it as a scope name, else a UsageError."""
    if not name or not all(_SCOPE_PART.match(part) for part in name.split('/')):
        raise UsageError(f'invalid {what} name {name!r}: {SCOPE_RULE}')
    return name


def parse(magic, line: str):
    """Parse a magic's arguments with shell quoting: ``'a b'`` is one argument
    without its quotes (IPython's own splitter keeps them)."""
    try:
        argv = shlex.split(line)
    except ValueError as err:  # "No closing quotation"
        raise UsageError(f'%{magic.__name__}: {err} in {line!r}') from None
    return magic.parser.parse_args(argv)


def run_cell_body(shell, cell: str):
    """Run ``cell`` in the user namespace as a cell body and return the value
    of its last expression (``None`` if it has none or ends with ``;``), which
    IPython then displays as the cell's result -- the approach of ``%%time``."""
    tree = shell.transform_ast(shell.compile.ast_parse(shell.transform_cell(cell)))
    last = None
    if tree.body and isinstance(tree.body[-1], ast.Expr):
        last = ast.Expression(tree.body.pop().value)
    filename = shell.compile.cache(cell)
    namespace = shell.user_ns
    exec(shell.compile(tree, filename, 'exec'), namespace)
    if last is None:
        return None
    value = eval(shell.compile(last, filename, 'eval'), namespace)
    return None if cell.rstrip().endswith(';') else value


@magics_class
class TFMagic(Magics):
    """tfmagic's magics and configuration (``%config TFMagic``)."""

    auto_init = Bool(True, help=(
        'Initialize the variables a cell creates once it has run. Turn off to '
        'see TensorFlow\'s "uninitialized value" error.')).tag(config=True)

    def __init__(self, shell, hooks: CellHooks):
        super().__init__(shell=shell)
        self.hooks = hooks
        self.workspace = hooks.workspace
        self.tracker = hooks.tracker
        hooks.auto_init = self.auto_init

    @observe('auto_init')
    def _auto_init_changed(self, change) -> None:
        self.hooks.auto_init = change['new']

    @magic_arguments()
    @argument('scope', help='variable scope (or name scope) to run the cell in, e.g. layer1')
    @argument('--reuse', nargs='?', const='true', choices=sorted(_REUSE_MODES),
              help="share variables: 'true' (default when the flag is given) returns "
                   "existing ones only, 'auto' creates missing ones (AUTO_REUSE)")
    @argument('--name-scope', action='store_true',
              help='use tf.name_scope, which get_variable ignores, instead of variable_scope')
    @cell_magic
    def tfscope(self, line, cell):
        """Run the cell inside a TensorFlow variable scope (or name scope).

        The cell's last expression is displayed as in a plain cell. Examples::

            %%tfscope layer1
            w = tf.compat.v1.get_variable('w', [3, 3])     # layer1/w

            %%tfscope layer1 --reuse
            w_again = tf.compat.v1.get_variable('w')       # the same layer1/w
        """
        args = parse(self.tfscope, line)
        scope = check_scope_name(args.scope)
        if args.name_scope and args.reuse:
            raise UsageError('--reuse applies to variable scopes; drop it or drop --name-scope')
        if args.name_scope:
            context = tf.name_scope(scope)
        else:
            context = tf.compat.v1.variable_scope(scope, reuse=_REUSE_MODES.get(args.reuse))
        with context:
            return run_cell_body(self.shell, cell)

    @magic_arguments()
    @argument('pattern', nargs='?', help="glob on the variable name, e.g. 'layer1/*'")
    @argument('--scope', help='only variables in this scope or its sub-scopes')
    @argument('--trainable', action='store_true', help='only trainable variables')
    @argument('--stats', action='store_true',
              help='add size, nbytes, min, max, mean and std of each value')
    @line_magic
    def vars(self, line):
        """List the managed graph's variables as a DataFrame, sorted by name.

        Columns: name, scope, shape, dtype, trainable, created_by, created_in,
        reuses, reused_in, reuse_status, initialized (and the statistics with
        --stats). Examples::

            %vars
            %vars 'layer1/*' --stats
            %vars --scope layer1 --trainable
        """
        args = parse(self.vars, line)
        scope = args.scope
        if scope is not None:
            scope = check_scope_name(scope.rstrip('/'), '--scope')
        return tables.list_variables(self.tracker, args.pattern, scope,
                                     args.trainable, args.stats)

    @magic_arguments()
    @line_magic
    def tfreset(self, line):
        """Start over: a new graph and session; every variable and record is dropped.

        Use it when re-running cells made "Variable ... already exists" errors
        or duplicate variables (foo, foo_1).
        """
        parse(self.tfreset, line)
        count = len(self.workspace.variables())
        try:
            self.workspace.reset()
        except WorkspaceError as err:
            raise UsageError(f'%tfreset: {err}') from None
        print(f'tfmagic: new graph and session; {count} variable'
              f"{'' if count == 1 else 's'} dropped.")
