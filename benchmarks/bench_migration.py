"""Migrating checkpoints: ``%mapckpt`` of a 10,000-key checkpoint saved
under another scope vs ``tf.train.list_variables``, and ``%convertckpt``
(renaming a scope) of about 1 GB vs the plain TF code that reads every
tensor and writes them back with one ``SaveV2``, with the peak memory of
each side.

``mapckpt_10k``: the workspace (graph mode) holds 10,000 float32 [2]
variables ``net/v0 ... net/v9999``, created with ``get_variable`` in a cell
(auto_init off: a mapping reads no value). The checkpoint is written once,
untimed, by a plain ``tf.compat.v1.train.Saver`` in a graph of its own
holding the same variables, saved as ``old_net/v0 ...`` (``var_list`` keyed
by those names): no key is any variable's name and every shape is the same,
so each key is mapped by its trailing name component (``'scope renamed'``),
not by a name or a unique shape. Timed: ``shell.run_line_magic('mapckpt',
PREFIX)`` (the index read, the mapping, the ``--map`` arguments printed --
swallowed -- and the table) vs ``tf.train.list_variables(PREFIX)``, the
listing a user would start the mapping from; interleaved, each after a
garbage collection, min of N. Checked afterwards: every row 'mapped', 'scope
renamed', onto ``net/`` plus the key's last component, and the printed
``--map old_net=net``. --quick: 1,000 variables.

``convertckpt_1g``: the source, written once (untimed) with ``SaveV2``: 16
float32 tensors ``a/v0 ... a/v15`` of 16,777,216 elements (64 MiB each,
1 GiB; 1,048,576 elements, 64 MiB in all, with --quick). Timed:
``%convertckpt SRC DST --map a=b --force`` (``run_line_magic``, its line
swallowed: tensor by tensor into shards of at most 64 MiB, merged, then
renamed into place) vs the plain TF code, in eager mode::

    reader = tf.train.load_checkpoint(SRC)
    keys = sorted(reader.get_variable_to_shape_map())
    tensors = [reader.get_tensor(key) for key in keys]
    tf.raw_ops.SaveV2(prefix=DST, tensor_names=['b/' + key.removeprefix('a/') ...],
                      shape_and_slices=[''] * len(keys), tensors=tensors)

Both sides read the same source (in the page cache after the warm-up
round) and write into sibling directories of one temporary directory on
the local disk, each emptied (untimed) before its side's run. As in
:mod:`bench_checkpoints` (same helper, same reasons; see its docstring):
1 untimed warm-up round, then rounds in alternating order (A B, B A, ...);
untimed before each timed run, ``os.sync()`` (neither side pays for writing
back the other's gigabyte) and 3x the source's bytes of memory touched and
freed (this VM's first touch of a freed page is a host fault). Checked
afterwards: both copies hold the same keys, shapes and values.

Peak memory of the conversion, each side in a child process of its own
(:func:`memory_child`; the source as above, the copy written beside the
timed ones): after an untimed conversion of a one-tensor checkpoint (code
loaded, TF's eager context made), the resident bytes before the timed
conversion and at its peak; the difference (extra peak, MB) of each side
goes into ``extra``, with a WARNING note when tfmagic's exceeds 300 MB. The
plain code holds every tensor at once; tfmagic is meant to stay near one
shard.
"""

from __future__ import annotations

import glob
import os
import shutil

import numpy as np
import tensorflow as tf
from _common import (
    MEMORY_PROBE,
    Context,
    Result,
    benchmark,
    cell,
    extra_peak,
    interleaved,
    memory_child,
    plain_graph,
    profile_run,
    progress,
    quiet,
)
from bench_checkpoints import captured, rotating, samples_of, scratch

MAP_TARGET = 2.0
CONVERT_TARGET = 1.2

MB = 1e6
MEMORY_LIMIT_MB = 300.0

# -- mapckpt_10k ---------------------------------------------------------------------------

N_MAP_FULL, N_MAP_QUICK = 10_000, 1_000


def map_code(n: int) -> str:
    """The cell creating ``net/v0 ... net/v{n-1}``, float32 [2], zeros."""
    return ("with tf.compat.v1.variable_scope('net'):\n"
            f'    for i in range({n}):\n'
            f"        tf.compat.v1.get_variable(f'v{{i}}', [2], "
            'initializer=tf.compat.v1.zeros_initializer())\n')


def old_name(name: str) -> str:
    """``net/v7`` -> ``old_net/v7``: the scope the checkpoint was saved under."""
    return 'old_' + name


def write_old_checkpoint(prefix: str, n: int) -> None:
    """The same variables in a graph of their own, saved by a plain Saver
    under ``old_net/...``: the checkpoint of an earlier version of the code."""
    graph = plain_graph(map_code(n))
    with graph.as_default():
        variables = tf.compat.v1.global_variables()
        saver = tf.compat.v1.train.Saver(var_list={old_name(v.op.name): v for v in variables})
        with tf.compat.v1.Session(graph=graph) as session:
            session.run(tf.compat.v1.global_variables_initializer())
            saver.save(session, prefix, write_meta_graph=False, write_state=False)


@benchmark('mapckpt_10k', target=MAP_TARGET)
def bench_mapckpt(ctx: Context) -> Result:
    """%mapckpt of a 10,000-key checkpoint saved under another scope vs tf.train.list_variables."""
    n = ctx.size(N_MAP_FULL, N_MAP_QUICK)
    repeats = ctx.repeats(15, 8)
    shell = ctx.shell
    ctx.tfreset(auto_init=False)
    cell(shell, map_code(n))
    ws = ctx.workspace()
    if len(ws.variables()) != n:
        raise RuntimeError(f'expected {n} variables, got {len(ws.variables())}')
    out = {}
    with scratch('mapckpt') as root:
        prefix = f'{root}/model'
        write_old_checkpoint(prefix, n)

        def tfmagic_run():
            with quiet():
                out['tfmagic'] = shell.run_line_magic('mapckpt', prefix)

        def plain_run():
            out['plain'] = tf.train.list_variables(prefix)

        samples = interleaved(repeats, tfmagic_run, plain_run, warmup=1)
        with captured() as said:  # untimed: what it printed above the table
            shell.run_line_magic('mapckpt', prefix)
        profile_run(ctx, 'mapckpt_10k', tfmagic_run)

    frame, listed = out['tfmagic'], out['plain']
    statuses = frame['status'].value_counts().to_dict()
    hows = frame['how'].value_counts().to_dict()
    onto = frame['key'].str.removeprefix('old_') == frame['variable']
    notes = [f'{n:,} float32 [2] variables net/v0... in the graph, {len(listed):,} keys '
             f'old_net/v0... in the checkpoint (a plain Saver\'s); rows: {statuses}, how: '
             f'{hows}; the index is in the page cache']
    if (len(frame) != n or statuses != {'mapped': n} or hows != {'scope renamed': n}
            or not onto.all() or len(listed) != n):
        notes.append(f'WARNING: expected {n} rows, every one mapped by scope renamed onto '
                     f'net/<its name>; got {len(frame)} rows, {statuses}, {hows}, '
                     f'{int(onto.sum())} onto net/<name>; plain listed {len(listed)}')
    if 'old_net=net' not in said.getvalue():
        notes.append(f'WARNING: %mapckpt did not print --map old_net=net: '
                     f'{said.getvalue().strip()[:300]!r}')
    ctx.tfreset()
    return samples.result('mapckpt_10k', n, MAP_TARGET, notes=notes,
                          extra={'statuses': statuses, 'how': hows})


# -- convertckpt_1g -----------------------------------------------------------------------------

N_TENSORS = 16
ELEMENTS_FULL, ELEMENTS_QUICK = 16_777_216, 1_048_576  # float32 per tensor: 1 GiB, 64 MiB

#: The plain side of convertckpt_1g, run in this process and in its memory
#: child: read every tensor, then write them all under the new scope with
#: one SaveV2 (eagerly).
PLAIN_CONVERT = r"""
import tensorflow as tf


def plain_convert(src, dst):
    reader = tf.train.load_checkpoint(src)
    keys = sorted(reader.get_variable_to_shape_map())
    tensors = [reader.get_tensor(key) for key in keys]
    tf.raw_ops.SaveV2(prefix=dst, tensor_names=['b/' + key.removeprefix('a/') for key in keys],
                      shape_and_slices=[''] * len(keys), tensors=tensors)
"""
_plain: dict = {}
exec(compile(PLAIN_CONVERT, '<plain_convert>', 'exec'), _plain)
plain_convert = _plain['plain_convert']

#: convertckpt_1g's memory child: ``python -c MEMORY_CHILD SIDE SRC DST``, a
#: process of its own (:func:`memory_child`). Converts a one-tensor
#: checkpoint first (untimed), then SRC to DST, measured; prints one JSON line.
MEMORY_CHILD = MEMORY_PROBE + PLAIN_CONVERT + r"""
import contextlib, io, json, os, shutil, sys, tempfile
import numpy as np

side, src, dst = sys.argv[1:4]
if side == 'tfmagic':
    from tests.shell import make_shell

    shell = make_shell()
    with contextlib.redirect_stdout(io.StringIO()):
        shell.run_line_magic('load_ext', 'tfmagic')

    def convert(a, b):
        with contextlib.redirect_stdout(io.StringIO()) as out:
            shell.run_line_magic('convertckpt', f'{a} {b} --map a=b --force')
        return out.getvalue().strip()
else:
    def convert(a, b):
        plain_convert(a, b)
        return ''

report = {}
warm = tempfile.mkdtemp(prefix='tfmagic-bench-')
try:
    for name in ('src', 'dst'):
        os.makedirs(os.path.join(warm, name))
    tf.raw_ops.SaveV2(prefix=os.path.join(warm, 'src', 'model'), tensor_names=['a/w'],
                      shape_and_slices=[''], tensors=[np.zeros(4, np.float32)])
    convert(os.path.join(warm, 'src', 'model'), os.path.join(warm, 'dst', 'model'))
finally:
    shutil.rmtree(warm, ignore_errors=True)
report['said'], report['convert'] = measured(lambda: convert(src, dst))
report['keys'] = len(tf.train.list_variables(dst))
print(json.dumps(report))
"""


def write_source(prefix: str, elements: int) -> int:
    """The source checkpoint, ``a/v0 ...``; returns its tensors' bytes."""
    tensors = [np.arange(elements, dtype=np.float32) + i for i in range(N_TENSORS)]
    tf.raw_ops.SaveV2(prefix=prefix, tensor_names=[f'a/v{i}' for i in range(N_TENSORS)],
                      shape_and_slices=[''] * N_TENSORS, tensors=tensors)
    return sum(t.nbytes for t in tensors)


def emptied(directory: str) -> None:
    shutil.rmtree(directory, ignore_errors=True)
    os.makedirs(directory)


def same_copies(a: str, b: str, src: str) -> tuple[bool, str]:
    """Whether the copies ``a`` and ``b`` hold the same keys, shapes and
    values, ``b/...`` for each ``a/...`` of ``src``; and what differed."""
    want = [('b/' + key.removeprefix('a/'), shape) for key, shape in tf.train.list_variables(src)]
    listings = (tf.train.list_variables(a), tf.train.list_variables(b))
    if sorted(listings[0]) != sorted(want) or sorted(listings[1]) != sorted(want):
        return False, f'keys: tfmagic {listings[0][:3]}..., plain {listings[1][:3]}...'
    source = tf.train.load_checkpoint(src)
    readers = (tf.train.load_checkpoint(a), tf.train.load_checkpoint(b))
    for i in (0, N_TENSORS - 1):
        expected = source.get_tensor(f'a/v{i}')
        if not all(np.array_equal(r.get_tensor(f'b/v{i}'), expected) for r in readers):
            return False, f'values of b/v{i}'
    return True, ''


def data_file_count(prefix: str) -> int:
    return len(glob.glob(prefix + '.data-*-of-*'))


@benchmark('convertckpt_1g', target=CONVERT_TARGET)
def bench_convertckpt(ctx: Context) -> Result:
    """%convertckpt SRC DST --map a=b of 1 GiB (16 tensors) vs load_checkpoint + one SaveV2."""
    elements = ctx.size(ELEMENTS_FULL, ELEMENTS_QUICK)
    repeats = ctx.repeats(3, 2)
    shell = ctx.shell
    said: list[str] = []
    with scratch('convertckpt') as root:
        src = f'{root}/src/model'
        os.makedirs(os.path.dirname(src))
        nbytes = write_source(src, elements)
        warm = max(3 * nbytes, 2**29)
        dirs = {side: f'{root}/{side}' for side in ('tfmagic', 'plain', 'memory')}
        line = f'{src} {dirs["tfmagic"]}/model --map a=b --force'

        def tfmagic_run(i):
            with captured() as out:
                shell.run_line_magic('convertckpt', line)
            said.append(out.getvalue().strip())

        def plain_run(i):
            plain_convert(src, f'{dirs["plain"]}/model')

        figures = rotating(repeats, [(lambda i: emptied(dirs['tfmagic']), tfmagic_run),
                                     (lambda i: emptied(dirs['plain']), plain_run)],
                           warmup=1, sync=True, warm_bytes=warm)
        same, differ = same_copies(f'{dirs["tfmagic"]}/model', f'{dirs["plain"]}/model', src)
        files = (data_file_count(f'{dirs["tfmagic"]}/model'),
                 data_file_count(f'{dirs["plain"]}/model'))

        def profile_setup():
            emptied(dirs['tfmagic'])
            os.sync()
        profile_run(ctx, 'convertckpt_1g', lambda: tfmagic_run(-1), profile_setup)
        for side in ('tfmagic', 'plain'):  # the timed copies are not needed any more
            emptied(dirs[side])

        # Peak memory, one child at a time (the plain one holds the whole checkpoint).
        memory = {}
        for side in ('tfmagic', 'plain'):
            emptied(dirs['memory'])
            memory[side] = memory_child(MEMORY_CHILD, side, src, f'{dirs["memory"]}/model',
                                        label=f'{side} memory', timeout=900)
    peaks = {side: extra_peak(memory[side]['convert']) / MB for side in memory}
    progress(f'    extra peak: tfmagic {peaks["tfmagic"]:.1f} MB, plain {peaks["plain"]:.1f} MB')

    size = f'{N_TENSORS} x float32[{elements:,}] = {nbytes / 2**30:g} GiB'
    notes = [f'{size}; {repeats} timed conversions per side after 1 warm-up, order '
             f'alternating; untimed before each: its output directory emptied, os.sync(), '
             f'{warm / 1e9:.1f} GB of memory touched; data files written: tfmagic {files[0]} '
             f'(shards merged), plain {files[1]}',
             f'extra peak RSS of the conversion, each side in a child process: tfmagic '
             f'{peaks["tfmagic"]:.1f} MB, plain {peaks["plain"]:.1f} MB (the checkpoint: '
             f'{nbytes / MB:.0f} MB; peak: {memory["tfmagic"]["convert"]["method"]})']
    if peaks['tfmagic'] > MEMORY_LIMIT_MB:
        notes.append(f'WARNING: %convertckpt\'s extra peak {peaks["tfmagic"]:.1f} MB exceeds '
                     f'{MEMORY_LIMIT_MB:g} MB')
    if not same:
        notes.append(f'WARNING: the copies differ ({differ})')
    if not said or not said[-1].startswith('Wrote ') or memory['tfmagic']['keys'] != N_TENSORS:
        notes.append(f'WARNING: unexpected %convertckpt: {said[-1:]!r}, the memory child\'s '
                     f'copy has {memory["tfmagic"]["keys"]} keys')
    return samples_of(*figures).result(
        'convertckpt_1g', N_TENSORS, CONVERT_TARGET, notes=notes,
        extra={'bytes': nbytes, 'data_files': {'tfmagic': files[0], 'plain': files[1]},
               'tfmagic_extra_peak_mb': peaks['tfmagic'],
               'plain_extra_peak_mb': peaks['plain'], 'memory': memory})
