"""%tfgraph: the graph drawn by scope with dot, read back from the SVG."""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass

import pytest
import tensorflow as tf
from IPython.core.error import UsageError

import tfmagic
from tests.shell import TRAIN, ok, ops_count, run
from tfmagic import graphview, hints
from tfmagic.wording import human_bytes

SVG = '{http://www.w3.org/2000/svg}'
XLINK_TITLE = '{http://www.w3.org/1999/xlink}title'

#: Lesson 02's example: the same body in a variable scope and a name scope.
SCOPING = '''\
def scoping(fn, scope1, scope2, vals):
    with fn(scope1):
        a = tf.compat.v1.Variable(vals[0], name='a')
        b = tf.compat.v1.get_variable('b', initializer=vals[1])
        c = tf.constant(vals[2], name='c')
        with fn(scope2):
            d = tf.add(a * b, c, name='res')
    return d
d1 = scoping(tf.compat.v1.variable_scope, 'scope_vars', 'res', [1, 2, 3])
d2 = scoping(tf.compat.v1.name_scope, 'scope_name', 'res', [1, 2, 3])
'''

#: A variable's own ops: folded into it, never drawn.
OWN_OP_NAMES = ('Assign', 'read', 'Initializer', 'IsInitialized', 'ReadVariableOp',
                'VarHandleOp')
OWN_OP_TYPES = ('VarHandleOp', 'VariableV2', 'ReadVariableOp', 'VarIsInitializedOp',
                'IsVariableInitialized')


# -- reading the SVG ------------------------------------------------------------------------


def _classes(element: ET.Element) -> list[str]:
    return element.get('class', '').split()


def _lines(element: ET.Element) -> list[str]:
    return [text.text or '' for text in element.iter(SVG + 'text')]


def _tooltip(element: ET.Element) -> str | None:
    link = element.find(f'.//{SVG}a')
    return None if link is None else link.get(XLINK_TITLE)


def _numbers(text: str) -> list[float]:
    return [float(n) for n in re.findall(r'-?\d+(?:\.\d+)?', text)]


def _bounds(cluster: ET.Element) -> tuple[float, float, float, float]:
    """A cluster's outline (a rounded path, or a polygon) as x0, y0, x1, y1."""
    shape = next(el for el in cluster.iter() if el.tag in (SVG + 'path', SVG + 'polygon'))
    numbers = _numbers(shape.get('d') or shape.get('points') or '')
    xs, ys = numbers[0::2], numbers[1::2]
    return min(xs), min(ys), max(xs), max(ys)


@dataclass
class Look:
    """A %tfgraph drawing as read from its SVG. Every node and cluster is
    named by the labels of the clusters around it, outermost first, then its
    own first line: 'scope_vars/⊘ a', 'scope_vars/res/', or just 'b' (and its
    kind after it, 'emb [op]', when another node there has that name)."""

    root: ET.Element
    #: name -> (kind: variable, scope, op or ops; the lines of its label)
    nodes: dict[str, tuple[str, list[str]]]
    #: cluster name -> the first lines of the nodes directly in it ('' for outside any)
    clusters: dict[str, set[str]]
    #: (source name, target name) -> (the edge's label or '', its classes after 'edge')
    edges: dict[tuple[str, str], tuple[str, tuple[str, ...]]]
    #: the edges drawn dashed
    dashed: set[tuple[str, str]]
    #: node or cluster name -> tooltip
    tooltips: dict[str, str | None]


def look(svg: str) -> Look:
    root = ET.fromstring(svg)
    assert root.tag == SVG + 'svg'
    groups = list(root.iter(SVG + 'g'))
    boxes = []  # (area, bounds, label, element)
    for g in groups:
        if _classes(g)[:1] == ['cluster']:
            assert _classes(g) == ['cluster', 'scope']
            assert re.fullmatch(r'cluster_n\d+', g.find(SVG + 'title').text)
            x0, y0, x1, y1 = _bounds(g)
            boxes.append(((x1 - x0) * (y1 - y0), (x0, y0, x1, y1), _lines(g)[0], g))
    boxes.sort(key=lambda box: -box[0])  # outermost first

    def around(x: float, y: float, inner: tuple | None = None) -> list[tuple]:
        return [box for box in boxes if box[1] != inner
                and box[1][0] <= x <= box[1][2] and box[1][1] <= y <= box[1][3]]

    tooltips: dict[str, str | None] = {}
    clusters: dict[str, set[str]] = {'': set()}
    for _, bounds, label, g in boxes:
        name = ''.join(box[2] for box in around(bounds[0], bounds[1], bounds)) + label
        assert name not in clusters, f'two clusters named {name!r}'
        clusters[name] = set()
        tooltips[name] = _tooltip(g)

    names: dict[str, str] = {}
    nodes: dict[str, tuple[str, list[str]]] = {}
    for g in groups:
        classes = _classes(g)
        if classes[:1] != ['node']:
            continue
        assert len(classes) == 2 and classes[1] in ('variable', 'scope', 'op', 'ops'), classes
        lines = _lines(g)
        first = next(g.iter(SVG + 'text'))
        outside = around(float(first.get('x')), float(first.get('y')))
        where = ''.join(box[2] for box in outside)
        name = where + lines[0]
        if name in nodes:  # an op named like a variable beside it: 'emb [op]'
            name += f' [{classes[1]}]'
        assert name not in nodes, f'two nodes named {name!r}'
        names[g.find(SVG + 'title').text] = name
        nodes[name] = (classes[1], lines)
        tooltips[name] = _tooltip(g)
        clusters[where].add(lines[0])

    edges: dict[tuple[str, str], tuple[str, tuple[str, ...]]] = {}
    dashed = set()
    for g in groups:
        classes = _classes(g)
        if classes[:1] != ['edge']:
            continue
        source, _, target = g.find(SVG + 'title').text.partition('->')
        key = names[source], names[target]
        assert key not in edges, f'two edges {key}'
        label = _lines(g)
        assert len(label) <= 1
        edges[key] = (label[0] if label else '', tuple(classes[1:]))
        if 'stroke-dasharray' in g.find(SVG + 'path').attrib:
            dashed.add(key)
    return Look(root, nodes, clusters, edges, dashed, tooltips)


def tfgraph(shell, line: str = '') -> Look:
    """``%tfgraph LINE`` as a magic call (no cell around it), read back."""
    drawing = shell.run_line_magic('tfgraph', line)
    assert isinstance(drawing, graphview.Drawing)
    bundle = drawing._repr_mimebundle_()
    assert set(bundle) == {'image/svg+xml', 'text/plain'}
    assert '\n' not in bundle['text/plain']
    return look(bundle['image/svg+xml'])


def variables(drawn: Look) -> dict[str, list[str]]:
    return {name: lines for name, (kind, lines) in drawn.nodes.items() if kind == 'variable'}


# -- the article's example ------------------------------------------------------------------


def test_scoping_example_at_depth_2_with_ops(ip):
    ok(ip, SCOPING)
    cell = ip.execution_count - 1
    drawing = ip.run_line_magic('tfgraph', '--depth 2 --ops')
    assert drawing._repr_mimebundle_()['text/plain'] == (
        '<%tfgraph: 2 open scopes, 2 closed scopes, 4 variables, 2 op nodes, 6 edges>')
    drawn = look(drawing.svg)
    assert drawn.clusters == {'': {'b'},
                              'scope_vars/': {'⊘ a', 'b', 'c', 'res/'},
                              'scope_name/': {'⊘ a', 'c', 'res/'}}
    assert drawn.nodes == {
        'b': ('variable', ['b', '[] int32', f'cell {cell}']),
        'scope_vars/⊘ a': ('variable', ['⊘ a', '[] int32', f'cell {cell}']),
        'scope_vars/b': ('variable', ['b', '[] int32', f'cell {cell}']),
        'scope_vars/c': ('op', ['c', 'Const']),
        'scope_vars/res/': ('scope', ['res/', '2 ops']),
        'scope_name/⊘ a': ('variable', ['⊘ a', '[] int32', f'cell {cell}']),
        'scope_name/c': ('op', ['c', 'Const']),
        'scope_name/res/': ('scope', ['res/', '2 ops'])}
    one = ('', ())
    assert drawn.edges == {('scope_vars/⊘ a', 'scope_vars/res/'): one,
                           ('scope_vars/b', 'scope_vars/res/'): one,
                           ('scope_vars/c', 'scope_vars/res/'): one,
                           ('scope_name/⊘ a', 'scope_name/res/'): one,
                           ('scope_name/c', 'scope_name/res/'): one,
                           ('b', 'scope_name/res/'): one}
    assert drawn.dashed == set()
    assert drawn.tooltips['scope_vars/'] == 'scope_vars/'
    assert drawn.tooltips['scope_name/res/'] == 'scope_name/res/'
    assert drawn.tooltips['scope_vars/c'] == 'scope_vars/c'
    # dot keeps runs of spaces as no-break spaces
    assert drawn.tooltips['b'].replace('\xa0', ' ') == f'b  []  int32  get_variable  cell {cell}'


def test_scoping_example_at_the_default_depth(ip):
    ok(ip, SCOPING)
    cell = ip.execution_count - 1
    drawn = tfgraph(ip)
    assert drawn.clusters == {'': {'scope_vars/', 'scope_name/', 'b'}}
    assert drawn.nodes == {
        'scope_vars/': ('scope', ['scope_vars/', '2 variables · 3 ops']),
        'scope_name/': ('scope', ['scope_name/', '1 variable · 3 ops']),
        'b': ('variable', ['b', '[] int32', f'cell {cell}'])}
    assert drawn.edges == {('b', 'scope_name/'): ('', ())}
    assert tfgraph(ip, '--depth 1').nodes == drawn.nodes


def test_scoping_example_at_depth_2_counts_the_ops_of_each_box(ip):
    ok(ip, SCOPING)
    drawn = tfgraph(ip, '--depth 2')
    assert drawn.clusters == {'': {'b'},
                              'scope_vars/': {'⊘ a', 'b', '1 op', 'res/'},
                              'scope_name/': {'⊘ a', '1 op', 'res/'}}
    assert drawn.nodes['scope_vars/1 op'] == ('ops', ['1 op'])
    assert drawn.nodes['scope_name/1 op'] == ('ops', ['1 op'])
    assert drawn.tooltips['scope_vars/1 op'] == 'scope_vars/: c'
    assert drawn.edges[('scope_vars/1 op', 'scope_vars/res/')] == ('', ())
    assert drawn.edges[('b', 'scope_name/res/')] == ('', ())
    assert len(drawn.edges) == 6


def test_the_drawing_displays_as_svg_with_a_text_summary(ip, capsys):
    ok(ip, SCOPING)
    drawing = ok(ip, '%tfgraph')
    assert 'Out[' in capsys.readouterr().out
    data, _ = ip.display_formatter.format(drawing)
    assert data['image/svg+xml'] == drawing.svg
    assert data['text/plain'] == (
        '<%tfgraph: 0 open scopes, 2 closed scopes, 1 variable, 0 op nodes, 1 edge>')
    look(data['image/svg+xml'])


# -- sharing --------------------------------------------------------------------------------


def test_a_reused_variable_is_marked_and_its_edges_out_of_its_scope_are_dashed(ip):
    ok(ip, "x = tf.compat.v1.placeholder(tf.float32, [2, 2], name='x')")
    ok(ip, "%%tfscope tower\n"
           "kernel = tf.compat.v1.get_variable('kernel', [2, 2])\n"
           "y = tf.matmul(x, kernel) + x")
    cell = ip.execution_count - 1
    before = tfgraph(ip, '--depth 2 --ops')
    assert variables(before) == {'tower/kernel': ['kernel', '[2, 2] float32', f'cell {cell}']}
    assert before.dashed == set()

    ok(ip, "with tf.compat.v1.variable_scope('tower', reuse=True):\n"
           "    k2 = tf.compat.v1.get_variable('kernel')\n"
           "with tf.compat.v1.name_scope('head'):\n"
           "    z = tf.add(tf.matmul(x, k2, name='mm'), tf.matmul(k2, k2, name='sq'), name='z')\n"
           "k2 is kernel")
    drawn = tfgraph(ip, '--depth 2 --ops')
    assert variables(drawn) == {
        'tower/↻ kernel': ['↻ kernel', '[2, 2] float32', f'cell {cell} · shared ×1']}
    assert drawn.clusters == {'': {'x'}, 'tower/': {'↻ kernel', 'MatMul', 'add'},
                              'head/': {'mm', 'sq', 'z'}}
    plain = ('', ())
    assert drawn.edges == {
        ('x', 'tower/MatMul'): plain,
        ('x', 'tower/add'): plain,
        ('x', 'head/mm'): plain,
        ('tower/↻ kernel', 'tower/MatMul'): plain,
        ('tower/MatMul', 'tower/add'): plain,
        ('tower/↻ kernel', 'head/mm'): ('shared', ('shared',)),
        ('tower/↻ kernel', 'head/sq'): ('shared · 2', ('shared',)),
        ('head/mm', 'head/z'): plain,
        ('head/sq', 'head/z'): plain}
    assert drawn.dashed == {('tower/↻ kernel', 'head/mm'), ('tower/↻ kernel', 'head/sq')}

    closed = tfgraph(ip)
    assert closed.nodes == {'1 op': ('ops', ['1 op']),
                            'tower/': ('scope', ['tower/', '1 variable · 2 ops']),
                            'head/': ('scope', ['head/', '3 ops'])}
    assert closed.edges == {('1 op', 'tower/'): ('2', ()),
                            ('1 op', 'head/'): ('', ()),
                            ('tower/', 'head/'): ('shared · 3', ('shared',))}
    assert closed.dashed == {('tower/', 'head/')}


# -- what is folded, what is left out -------------------------------------------------------


def test_a_variables_own_ops_are_folded_into_it_and_slots_sit_beside_it(ip):
    ok(ip, TRAIN)
    cell = ip.execution_count - 1
    drawn = tfgraph(ip, '--depth 2 --ops')
    for name, (kind, lines) in drawn.nodes.items():
        leaf = lines[0].split(' ')[-1].rstrip('/')
        assert leaf not in OWN_OP_NAMES, name
        if kind == 'op':
            assert lines[1] not in OWN_OP_TYPES, name
    assert drawn.clusters['enc/'] == {'W', '◇ W/Adam', '◇ W/Adam_1'}
    assert variables(drawn) == {
        'enc/W': ['W', '[2, 1] float32', f'cell {cell}'],
        'enc/◇ W/Adam': ['◇ W/Adam', '[2, 1] float32', f'cell {cell}'],
        'enc/◇ W/Adam_1': ['◇ W/Adam_1', '[2, 1] float32', f'cell {cell}'],
        '◇ beta1_power': ['◇ beta1_power', '[] float32', f'cell {cell}'],
        '◇ beta2_power': ['◇ beta2_power', '[] float32', f'cell {cell}'],
        'global_step': ['global_step', '[] int64', f'cell {cell}']}
    assert drawn.edges[('enc/W', 'MatMul')] == ('', ())
    assert drawn.tooltips['enc/◇ W/Adam'].replace('\xa0', ' ').startswith('enc/W/Adam  [2, 1]')
    assert tfgraph(ip).nodes['enc/'] == ('scope', ['enc/', '3 variables'])


def test_a_partitioned_variable_is_one_node(ip):
    ok(ip, "emb = tf.compat.v1.get_variable(\n"
           "    'emb', [6, 2], partitioner=tf.compat.v1.fixed_size_partitioner(3))\n"
           "total = tf.reduce_sum(emb)")
    cell = ip.execution_count - 1
    drawn = tfgraph(ip, '--depth 3 --ops')
    assert variables(drawn) == {'emb': ['emb', '[6, 2] float32 ×3 parts', f'cell {cell}']}
    assert not [line for _, lines in drawn.nodes.values() for line in lines if 'part_' in line]


def test_a_partitioned_variables_concatenation_is_folded_into_it(ip):
    # Reading a partitioned variable as one tensor makes emb/ConcatPartitions/...
    # and an Identity named 'emb': its own ops, as 'read' is a VariableV2's.
    ok(ip, "emb = tf.compat.v1.get_variable(\n"
           "    'emb', [6, 2], partitioner=tf.compat.v1.fixed_size_partitioner(3))\n"
           "total = tf.reduce_sum(emb)")
    drawn = tfgraph(ip, '--depth 3 --ops')
    assert set(drawn.nodes) == {'emb', 'Const', 'Sum'}
    assert drawn.edges == {('emb', 'Sum'): ('', ()), ('Const', 'Sum'): ('', ())}


def test_tfmagics_own_ops_are_never_drawn_but_a_users_saver_is(model, ws):
    ip = model
    before = ip.run_line_magic('tfgraph', '--depth 3 --ops').svg
    ok(ip, '%saveckpt')
    ok(ip, '%restoreckpt')
    ok(ip, '%vars --stats')
    assert any(op.name.startswith('tfmagic/') for op in ws.graph.get_operations())
    after = ip.run_line_magic('tfgraph', '--depth 3 --ops').svg
    assert after == before
    drawn = look(after)
    assert drawn.clusters == {'': set(), 'net/': {'⊘ b', 'w'}}
    for name, (_, lines) in drawn.nodes.items():
        assert not [line for line in lines if 'tfmagic' in line], name

    ok(ip, 'saver = tf.compat.v1.train.Saver()')
    drawn = tfgraph(ip)
    assert set(drawn.nodes) == {'net/', 'save/'}
    assert drawn.nodes['net/'] == ('scope', ['net/', '2 variables'])
    kind, lines = drawn.nodes['save/']
    assert kind == 'scope' and re.fullmatch(r'save/ \d+ ops', ' '.join(lines))
    assert ('net/', 'save/') in drawn.edges
    assert not [name for name in drawn.nodes if 'tfmagic' in name]


def test_drawing_adds_no_op_to_the_graph(model, ws, tmp_path):
    ok(model, TRAIN)
    model.run_line_magic('tfgraph', '')
    before = ops_count(ws.graph)
    for line in ('', '--depth 3 --ops', 'enc', '--save g.png', '--depth 2 --save g.svg'):
        model.run_line_magic('tfgraph', line)
        ok(model, f'%tfgraph {line}')
    assert ops_count(ws.graph) == before
    assert sorted(os.listdir(tmp_path)) == ['g.png', 'g.svg']


# -- the index: incremental, and made anew after %tfreset -----------------------------------


def test_later_cells_are_drawn_and_a_reset_forgets_everything(ip):
    tracker = tfmagic.tracker()
    ok(ip, "%%tfscope enc\nw = tf.compat.v1.get_variable('w', [1])")
    assert tfgraph(ip, '--depth 2').clusters == {'': set(), 'enc/': {'w'}}
    index = graphview.index_of(tracker)
    ok(ip, "%%tfscope enc\nv = tf.compat.v1.get_variable('v', [2])")
    ok(ip, "with tf.compat.v1.name_scope('dec'):\n    out = tf.square(w)")
    drawn = tfgraph(ip, '--depth 2')
    assert graphview.index_of(tracker) is index
    assert drawn.clusters == {'': set(), 'enc/': {'v', 'w'}, 'dec/': {'1 op'}}
    assert drawn.edges == {('enc/w', 'dec/1 op'): ('', ())}
    assert set(index.records) == {'enc/w', 'enc/v'}

    ok(ip, '%tfreset')
    ok(ip, "u = tf.compat.v1.get_variable('u', [3])")
    cell = ip.execution_count - 1
    drawn = tfgraph(ip, '--depth 2 --ops')
    assert drawn.nodes == {'u': ('variable', ['u', '[3] float32', f'cell {cell}'])}
    assert drawn.edges == {}
    assert graphview.index_of(tracker) is not index
    assert set(graphview.index_of(tracker).records) == {'u'}


# -- every text reaches the SVG as text ------------------------------------------------------

EVIL = '<img src=x onerror="alert(1)">'
TEXTS = [EVIL, 'say "hi"', 'a & b', 'x\\N', 'two\\\\slashes', 'end\\', 'q\\"x', '\\G\\L\\E',
         'r&amp;s', 'a&lt;b', '&#60;']


@pytest.mark.parametrize('text', TEXTS)
def test_any_text_reaches_the_svg_exactly(text):
    box = graphview.Box('n0', text, text, nodes=[
        graphview.Node('n1', 'variable', [text, 'float32'], text)])
    canvas = graphview.Box('canvas', '', '', nodes=[graphview.Node('n2', 'op', ['t', text], text)],
                           boxes=[box])
    picture = graphview.Picture(canvas, [graphview.Edge('n1', 'n2', 2, True)])
    svg = graphview.render(graphview.to_dot(picture)).decode()
    root = ET.fromstring(svg)
    assert not [el for el in root.iter() if el.tag.rpartition('}')[2].lower() == 'img']
    assert 'onerror=' not in ''.join(f'{el.attrib}' for el in root.iter() if el.tag != SVG + 'a')
    drawn = look(svg)
    assert drawn.clusters == {'': {'t'}, text: {text}}
    assert drawn.nodes == {text + text: ('variable', [text, 'float32']),
                           't': ('op', ['t', text])}
    assert drawn.edges == {(text + text, 't'): ('shared · 2', ('shared',))}
    assert drawn.tooltips[text] == text
    assert drawn.tooltips['t'] == text
    assert drawn.tooltips[text + text] == text


def test_an_op_name_with_a_backslash_is_drawn_as_written(ip):
    # TensorFlow's op names may hold '\' (its _VALID_OP_NAME_REGEX allows it).
    ok(ip, "c = tf.constant(1.0, name='c\\\\N')\nd = tf.constant(2.0, name='d\\\\G')\n"
           "e = tf.add(c, d, name='e')")
    drawn = tfgraph(ip, '--ops')
    assert drawn.nodes == {'c\\N': ('op', ['c\\N', 'Const']), 'd\\G': ('op', ['d\\G', 'Const']),
                           'e': ('op', ['e', 'AddV2'])}
    assert drawn.tooltips['c\\N'] == 'c\\N'
    assert drawn.tooltips['d\\G'] == 'd\\G'


# -- --save ----------------------------------------------------------------------------------


@pytest.mark.parametrize('fmt, magic', [('svg', b'<?xml'), ('png', b'\x89PNG'), ('pdf', b'%PDF')])
def test_save_writes_the_format_of_the_suffix(model, tmp_path, monkeypatch, capsys, fmt, magic):
    home = tmp_path / 'home'
    home.mkdir()
    monkeypatch.setenv('HOME', str(home))
    capsys.readouterr()
    drawing = model.run_line_magic('tfgraph', f'--depth 2 --save ~/net.{fmt}')
    written = home / f'net.{fmt}'
    data = written.read_bytes()
    assert data.startswith(magic)
    assert capsys.readouterr().out == f'tfmagic: wrote ~/net.{fmt} ({human_bytes(len(data))})\n'
    assert os.listdir(home) == [f'net.{fmt}']
    assert look(drawing.svg).clusters == {'': set(), 'net/': {'⊘ b', 'w'}}
    if fmt == 'svg':
        assert data == drawing.svg.encode()
        assert look(data.decode()).clusters == {'': set(), 'net/': {'⊘ b', 'w'}}
    else:
        assert len(data) > 1000


def test_save_in_a_cell_prints_the_line_and_shows_the_picture(model, tmp_path, capsys):
    capsys.readouterr()
    drawing = ok(model, '%tfgraph --save Graph.SVG')
    assert isinstance(drawing, graphview.Drawing)
    out = capsys.readouterr().out
    size = human_bytes((tmp_path / 'Graph.SVG').stat().st_size)
    assert out.startswith(f'tfmagic: wrote Graph.SVG ({size})\n')
    assert 'Out[' in out


@pytest.mark.parametrize('line, message', [
    ('--depth 0', '--depth must be 1 or more'),
    ('--depth -2 --save g.svg', '--depth must be 1 or more'),
    ('--depth two', "argument --depth: invalid int value: 'two'"),
    ('nothing', "no scope 'nothing' in the graph"),
    ('net/w', "no scope 'net/w' in the graph"),
    ("'a b'", "invalid scope name 'a b'"),
    ('a//b', "invalid scope name 'a//b'"),
    ('--save g.jpg', "--save 'g.jpg': the name must end in .svg, .png, .pdf"),
    ('--save graph', "--save 'graph': the name must end in .svg, .png, .pdf"),
    ('--save missing/g.svg', "--save 'missing/g.svg': No such file or directory"),
    ('--save', 'argument --save: expected one argument'),
    ('--bogus', 'unrecognized arguments: --bogus'),
    ("'unclosed", 'No closing quotation'),
])
def test_bad_arguments_are_one_line_and_change_nothing(model, ws, tmp_path, line, message):
    before = ops_count(ws.graph)
    with pytest.raises(UsageError, match='^[^\n]*$') as info:
        model.run_line_magic('tfgraph', line)
    assert message in str(info.value)
    assert ops_count(ws.graph) == before
    assert os.listdir(tmp_path) == []


def test_an_error_in_a_cell_is_a_usage_error(model):
    result = run(model, '%tfgraph --depth 0')
    assert isinstance(result.error_in_exec, UsageError)
    assert str(result.error_in_exec) == '--depth must be 1 or more'


def test_without_dot_the_error_says_how_to_install_graphviz(model, ws, tmp_path, monkeypatch):
    empty = tmp_path / 'bin'
    empty.mkdir()
    monkeypatch.setenv('PATH', str(empty))
    before = ops_count(ws.graph)
    for line in ('', '--save g.svg'):
        with pytest.raises(UsageError) as info:
            model.run_line_magic('tfgraph', line)
        assert str(info.value) == hints.DOT_MISSING
    assert '\n' not in hints.DOT_MISSING and 'graphviz' in hints.DOT_MISSING
    assert ops_count(ws.graph) == before
    assert os.listdir(tmp_path) == ['bin']


# -- a big graph -----------------------------------------------------------------------------


def test_a_big_graph_is_drawn_as_its_scopes(ip, ws):
    # VariableV2s (the quickest to make): their Initializer, Assign and read fold too.
    zeros = tf.compat.v1.zeros_initializer()
    with ws.activate():
        for s in range(100):
            with tf.compat.v1.variable_scope(f's{s}'):
                for i in range(20):
                    tf.compat.v1.get_variable(f'v{i}', [], initializer=zeros, use_resource=False)
    drawn = tfgraph(ip)
    assert drawn.nodes == {f's{s}/': ('scope', [f's{s}/', '20 variables']) for s in range(100)}
    assert drawn.edges == {}
    one = tfgraph(ip, 's7')
    assert one.nodes == {f'v{i}': ('variable', [f'v{i}', '[] float32']) for i in range(20)}
    assert one.clusters == {'': {f'v{i}' for i in range(20)}}
    assert one.tooltips['v3'].replace('\xa0', ' ') == 's7/v3  []  float32  get_variable'
    assert tfgraph(ip, 's7/ --ops').nodes == one.nodes


# -- help and silence ------------------------------------------------------------------------


def test_help_lists_the_options(ip):
    text = ip.object_inspect_text('%tfgraph')
    doc = ip.find_line_magic('tfgraph').__doc__
    for option in ('--depth N', '--ops', '--save FILE', 'scope'):
        assert option in text
        assert option in doc
    assert 'Graphviz' in doc


@pytest.mark.parametrize('line', ['%tfgraph ;', '%tfgraph --depth 2 --ops;',
                                  '%tfgraph --ops;  # a comment after the semicolon'])
def test_a_trailing_semicolon_hides_the_picture(ip, capsys, line):
    ok(ip, SCOPING)
    capsys.readouterr()
    assert ok(ip, line) is None
    assert 'Out[' not in capsys.readouterr().out


def test_an_empty_graph_says_so(ip):
    with pytest.raises(UsageError, match='^nothing to draw: the graph is empty$'):
        ip.run_line_magic('tfgraph', '')


def test_a_dot_that_cannot_run_is_one_line(model, ws, tmp_path, monkeypatch):
    broken = tmp_path / 'bin' / 'dot'
    broken.parent.mkdir()
    broken.write_text('#!/nonexistent/interpreter\n')
    broken.chmod(0o755)
    monkeypatch.setenv('PATH', str(broken.parent))
    before = ops_count(ws.graph)
    with pytest.raises(UsageError, match=r'^cannot run dot: .*No such file or directory'):
        model.run_line_magic('tfgraph', '')
    assert ops_count(ws.graph) == before


def test_a_users_name_scope_tfmagic_is_not_tfmagics(ip):
    ok(ip, "with tf.compat.v1.name_scope('tfmagic'):\n"
           "    mine = tf.compat.v1.Variable(1.0, name='mine')")
    drawn = tfgraph(ip, '')
    assert drawn.nodes['tfmagic_1/'] == ('scope', ['tfmagic_1/', '1 variable'])


def test_the_index_goes_with_its_tracker():
    """An index holds its tracker weakly: dropped, their graph is freed."""
    import gc
    import weakref

    from tfmagic import VariableTracker, Workspace
    workspace = Workspace()
    tracker = VariableTracker(workspace)
    with workspace.activate():
        tf.compat.v1.get_variable('v', [1])
    graphview.index_of(tracker)
    graph = weakref.ref(workspace.graph)
    tracker.detach()
    workspace.close()
    del tracker, workspace
    gc.collect()  # the tracker, whose death drops the index from index_of's table
    gc.collect()  # the index and the graph it held
    assert graph() is None


def test_a_scope_named_like_a_variable_keeps_its_ops(ip):
    """A tf.Variable `net` and, later, ops in the name scope `net/`: the
    variable is made of the ops its making made, not of every `net/...`."""
    ok(ip, "net = tf.compat.v1.Variable(1.0, name='net')\n"
           "w = tf.compat.v1.get_variable('w', [1])")
    ok(ip, '%%tfscope net --name-scope\ny = w * 2.0')
    drawn = tfgraph(ip)
    assert drawn.nodes['net/'] == ('scope', ['net/', '2 ops'])
    assert drawn.nodes['⊘ net'][0] == 'variable'
    assert set(drawn.edges) == {('w', 'net/')}


def test_a_variable_outside_the_collections_is_one_node(ip):
    ok(ip, "hidden = tf.compat.v1.get_variable('hidden', [2], collections=[])\n"
           "y = hidden * 2.0")
    drawn = tfgraph(ip, '--ops')
    assert [name for name, (kind, _) in drawn.nodes.items() if kind == 'variable'] == ['hidden']
    assert set(drawn.edges) == {('hidden', 'mul'), ('mul/', 'mul')}
