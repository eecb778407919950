"""%saveckpt, %restoreckpt, %ckpts, %inspectckpt against real files and real TF."""

import os

import pytest
import tensorflow as tf
from IPython.core.error import UsageError

import tfmagic
from tests.shell import MODEL, ok, ops_count, run
from tfmagic import checkpoints
from tfmagic.checkpoints import CheckpointError


def values(ip):
    return ok(ip, 'tf.compat.v1.get_default_session().run([w, b])')


def set_values(ip, w, b):
    ok(ip, f'tf.compat.v1.get_default_session().run([w.assign({w}), b.assign({b})])')


def test_save_writes_the_v2_files_and_state_and_says_what(model, capsys, tmp_path):
    capsys.readouterr()
    ok(model, '%saveckpt')
    out = capsys.readouterr().out.strip()
    assert out.startswith('Saved 2 variables (')
    assert out.endswith(' to checkpoints/model.')
    names = sorted(os.listdir(tmp_path / 'checkpoints'))
    assert names == ['checkpoint', 'model.data-00000-of-00001', 'model.index', 'model.meta']
    state = (tmp_path / 'checkpoints' / 'checkpoint').read_text()
    assert 'model_checkpoint_path: "model"' in state  # relative: the folder can move
    assert tf.train.latest_checkpoint(str(tmp_path / 'checkpoints')).endswith('checkpoints/model')
    reader = tf.train.load_checkpoint(str(tmp_path / 'checkpoints' / 'model'))
    assert reader.get_tensor('net/w').tolist() == [[1.0, 2.0], [3.0, 4.0]]
    assert reader.get_tensor('net/b').tolist() == [5, 6, 7]


def test_restore_brings_back_exact_values(model):
    ok(model, '%saveckpt')
    set_values(model, [[0.0, 0.0], [0.0, 0.0]], [0, 0, 0])
    ok(model, '%restoreckpt')
    w, b = values(model)
    assert w.tolist() == [[1.0, 2.0], [3.0, 4.0]] and b.tolist() == [5, 6, 7]


def test_step_vars_and_keep(model, tmp_path):
    for step in range(6):
        set_values(model, [[step, 0.0], [0.0, 0.0]], [step, 0, 0])
        ok(model, f'%saveckpt ckpt/run --step {step} --keep 3')
    ok(model, '%saveckpt ckpt/other --step 1 --vars net/w')
    files = sorted(os.listdir(tmp_path / 'ckpt'))
    assert [f for f in files if f.endswith('.index')] == [
        'other-1.index', 'run-3.index', 'run-4.index', 'run-5.index']
    frame = ok(model, '%ckpts ckpt')
    assert list(frame.columns) == [
        'prefix', 'step', 'saved_at', 'size_bytes', 'variables', 'latest']
    assert frame['prefix'].tolist() == ['ckpt/run-3', 'ckpt/run-4', 'ckpt/run-5', 'ckpt/other-1']
    assert frame['step'].tolist() == [3, 4, 5, 1]
    assert frame['variables'].tolist() == [2, 2, 2, 1]
    assert frame['latest'].tolist() == [False, False, False, True]
    assert (frame['size_bytes'] > 0).all()
    assert frame['saved_at'].notna().all()
    ok(model, '%restoreckpt ckpt/run-4')
    assert values(model)[1].tolist() == [4, 0, 0]


def test_keep_counts_per_prefix_not_per_directory(model, tmp_path):
    ok(model, '%saveckpt ck/a --step 1 --keep 1')
    ok(model, '%saveckpt ck/b --step 1 --keep 1')
    ok(model, '%saveckpt ck/b --step 2 --keep 1')
    assert sorted(f for f in os.listdir(tmp_path / 'ck') if f.endswith('.index')) == [
        'a-1.index', 'b-2.index']
    assert tf.train.get_checkpoint_state(str(tmp_path / 'ck')).all_model_checkpoint_paths[:] == [
        str(tmp_path / 'ck' / 'a-1'), str(tmp_path / 'ck' / 'b-2')]


def test_config_sets_the_default_directory_and_keep(model, tmp_path):
    ok(model, "%config TFMagic.checkpoint_dir = 'elsewhere'")
    ok(model, '%config TFMagic.max_to_keep = 2')
    try:
        for step in range(4):
            ok(model, f'%saveckpt --step {step}')
        frame = ok(model, '%ckpts')
        assert frame['prefix'].tolist() == ['elsewhere/model-2', 'elsewhere/model-3']
        ok(model, '%restoreckpt')
    finally:
        ok(model, "%config TFMagic.checkpoint_dir = 'checkpoints'")
        ok(model, '%config TFMagic.max_to_keep = 5')


def test_resaving_the_same_variables_replaces_and_says_so(model, capsys):
    ok(model, '%saveckpt')
    set_values(model, [[9.0, 9.0], [9.0, 9.0]], [9, 9, 9])
    capsys.readouterr()
    ok(model, '%saveckpt')
    assert 'replacing the earlier save of the same variables' in capsys.readouterr().out
    ok(model, '%restoreckpt')
    assert values(model)[1].tolist() == [9, 9, 9]


def test_a_different_checkpoint_is_never_overwritten(model, tmp_path):
    ok(model, '%saveckpt --vars net/w')
    before = (tmp_path / 'checkpoints' / 'model.index').read_bytes()
    result = run(model, '%saveckpt')
    assert isinstance(result.error_in_exec, CheckpointError)
    assert 'already holds a different checkpoint' in str(result.error_in_exec)
    assert (tmp_path / 'checkpoints' / 'model.index').read_bytes() == before


def test_repeated_saves_and_restores_add_no_op(model):
    ok(model, '%saveckpt --step 1')
    ok(model, '%restoreckpt')
    graph = tfmagic.workspace().graph
    before = ops_count(graph)
    for step in range(2, 6):
        ok(model, f'%saveckpt --step {step}')
        ok(model, '%restoreckpt')
        ok(model, '%inspectckpt checkpoints')
        ok(model, '%ckpts')
    assert ops_count(graph) == before


def test_restore_into_a_fresh_graph(model):
    ok(model, '%saveckpt')
    ok(model, '%tfreset')
    ok(model, '%config TFMagic.auto_init = False')
    ok(model, MODEL)
    assert ok(model, '%vars')['initialized'].tolist() == [False, False]
    ok(model, '%restoreckpt checkpoints/model')
    assert ok(model, '%vars')['initialized'].tolist() == [True, True]
    assert values(model)[0].tolist() == [[1.0, 2.0], [3.0, 4.0]]


def test_restore_with_map_into_renamed_scopes(model):
    ok(model, '%saveckpt')
    ok(model, '%tfreset')
    ok(model, MODEL.replace('%%tfscope net', '%%tfscope model/v2'))
    result = run(model, '%restoreckpt')
    assert isinstance(result.error_in_exec, CheckpointError)
    message = str(result.error_in_exec)
    assert 'nothing was restored' in message
    for line in ('net/b: missing in graph', 'net/w: missing in graph',
                 'model/v2/b: missing in checkpoint', 'model/v2/w: missing in checkpoint'):
        assert line in message
    assert '--map' in message and '--allow-missing' in message
    set_values(model, [[0.0, 0.0], [0.0, 0.0]], [0, 0, 0])
    ok(model, '%restoreckpt --map net=model/v2')
    assert values(model)[1].tolist() == [5, 6, 7]


def test_map_renames_single_names_and_tf_variables(model):
    ok(model, '%saveckpt')
    ok(model, '%tfreset')
    ok(model, "w = tf.compat.v1.get_variable('kernel', [2, 2])\n"
              "b = tf.compat.v1.Variable([0, 0, 0], name='bias')")
    ok(model, '%restoreckpt --map net/w=kernel net/b=bias')
    w, b = values(model)
    assert w.tolist() == [[1.0, 2.0], [3.0, 4.0]] and b.tolist() == [5, 6, 7]


def test_shape_mismatch_is_caught_before_anything_is_assigned(model):
    ok(model, '%saveckpt')
    ok(model, '%tfreset')
    ok(model, MODEL.replace("initializer=[[1.0, 2.0], [3.0, 4.0]]", "initializer=[1.0, 2.0, 3.0]"))
    result = run(model, '%restoreckpt')
    message = str(result.error_in_exec)
    assert 'net/w: shape (2, 2) in checkpoint, (3,) in graph' in message
    w, b = values(model)
    assert w.tolist() == [1.0, 2.0, 3.0] and b.tolist() == [5, 6, 7]  # nothing restored
    ok(model, '%restoreckpt --allow-missing')


def test_dtype_mismatch_and_ref_variables_are_not_half_restored(model):
    ok(model, '%saveckpt')
    ok(model, '%tfreset')
    ok(model, "%%tfscope net\n"
              "w = tf.compat.v1.get_variable('w', initializer=[[0.0, 0.0], [0.0, 0.0]], "
              'use_resource=False)\n'
              "b = tf.compat.v1.Variable([0.0, 0.0, 0.0], name='b', use_resource=False)")
    result = run(model, '%restoreckpt')
    assert 'net/b: dtype int32 in checkpoint, float32 in graph' in str(result.error_in_exec)
    assert values(model)[0].tolist() == [[0.0, 0.0], [0.0, 0.0]]


def test_allow_missing_restores_the_matching_subset_and_reports_the_rest(model, capsys):
    ok(model, '%saveckpt')
    ok(model, '%tfreset')
    ok(model, MODEL + "\nextra = tf.compat.v1.get_variable('extra', initializer=1.5)")
    set_values(model, [[0.0, 0.0], [0.0, 0.0]], [0, 0, 0])
    capsys.readouterr()
    ok(model, '%restoreckpt --allow-missing')
    out = capsys.readouterr().out
    assert ('Restored 2 variables from checkpoints/model. '
            'Skipped 1: net/extra: missing in checkpoint.') in out
    assert values(model)[1].tolist() == [5, 6, 7]
    assert ok(model, 'extra.eval()') == 1.5


def test_inspect_compares_with_the_graph(model):
    ok(model, '%saveckpt')
    ok(model, "%%tfscope net\nnew = tf.compat.v1.get_variable('new', [1])")
    frame = ok(model, '%inspectckpt checkpoints/model.index')  # a file name is accepted
    assert list(frame.columns) == ['name', 'shape', 'dtype', 'status']
    assert frame.to_dict('records') == [
        {'name': 'net/b', 'shape': (3,), 'dtype': 'int32', 'status': 'match'},
        {'name': 'net/new', 'shape': (1,), 'dtype': 'float32', 'status': 'missing in checkpoint'},
        {'name': 'net/w', 'shape': (2, 2), 'dtype': 'float32', 'status': 'match'}]


def test_inspect_stats_reads_the_stored_values(model):
    ok(model, '%saveckpt')
    # the checkpoint's values, not the graph's
    set_values(model, [[0.0, 0.0], [0.0, 0.0]], [0, 0, 0])
    ok(model, "%%tfscope net\nnew = tf.compat.v1.get_variable('new', [1])")
    stats = ok(model, '%inspectckpt checkpoints --stats').set_index('name')
    assert list(stats.columns) == ['shape', 'dtype', 'status', 'size', 'nbytes',
                                   'min', 'max', 'mean', 'std']
    w = stats.loc['net/w']
    assert (w['size'], w['nbytes'], w['min'], w['max'], w['mean']) == (4, 16, 1.0, 4.0, 2.5)
    assert stats.loc['net/b', 'max'] == 7.0
    assert stats.loc['net/new', 'status'] == 'missing in checkpoint'
    assert stats.loc['net/new', ['size', 'min']].isna().all()
    values = ok(model, "from tfmagic import checkpoints\n"
                       "list(checkpoints.read_values('checkpoints/model', ['net/b', None]))")
    assert values[0].tolist() == [5, 6, 7] and values[1] is None


def test_saving_uninitialized_variables_is_refused(model, tmp_path):
    ok(model, '%config TFMagic.auto_init = False')
    ok(model, "u = tf.compat.v1.get_variable('u', [1])")
    result = run(model, '%saveckpt')
    assert 'cannot save u: not initialized in this session' in str(result.error_in_exec)
    assert not (tmp_path / 'checkpoints').exists()


@pytest.mark.parametrize('magic, line, message', [
    ('saveckpt', '--step -1', '--step must be 0 or more'),
    ('saveckpt', '--step x', "argument --step: invalid int value: 'x'"),
    ('saveckpt', '--keep -2', '--keep must be 0 (keep all) or more'),
    ('saveckpt', 'a b', 'unrecognized arguments: b'),
    ('saveckpt', "--vars 'nomatch*'", "nothing to save: no variable matches 'nomatch*'"),
    ('restoreckpt', '--map net', "--map takes OLD=NEW"),
    ('restoreckpt', '--map a=b a=c', "--map names 'a' twice"),
    ('restoreckpt', "--map 'a b=c'", "invalid --map name 'a b'"),
    ('restoreckpt', '--map', 'expected at least one argument'),
    ('restoreckpt', 'missing/model', "no checkpoint at 'missing/model'"),
    ('restoreckpt', '--bogus', 'unrecognized arguments: --bogus'),
    ('ckpts', 'nowhere', "no checkpoint directory 'nowhere'"),
    ('ckpts', 'a b', 'unrecognized arguments: b'),
    ('inspectckpt', '', 'the following arguments are required: PREFIX'),
    ('inspectckpt', 'missing', "no checkpoint at 'missing'"),
])
def test_bad_input_is_one_clear_message_and_changes_nothing(model, tmp_path, magic, line, message):
    ok(model, '%saveckpt --step 1')
    set_values(model, [[7.0, 7.0], [7.0, 7.0]], [7, 7, 7])
    before = sorted(p.name for p in tmp_path.rglob('*'))
    graph = tfmagic.workspace().graph
    ops = ops_count(graph)
    with pytest.raises((UsageError, CheckpointError), match='^[^\n]*$') as info:
        model.run_line_magic(magic, line)
    assert message in str(info.value)
    assert sorted(p.name for p in tmp_path.rglob('*')) == before
    assert ops_count(graph) == ops
    assert values(model)[1].tolist() == [7, 7, 7]


def test_a_directory_without_checkpoints(model, tmp_path):
    (tmp_path / 'empty').mkdir()
    with pytest.raises(CheckpointError, match="no checkpoint in 'empty': it has no \\*.index file"):
        model.run_line_magic('restoreckpt', 'empty')
    assert ok(model, '%ckpts empty').empty


def test_checkpoint_errors_render_as_one_line_without_traceback(model, capsys):
    capsys.readouterr()
    run(model, '%restoreckpt nowhere/model')
    out = capsys.readouterr().out
    assert out.strip() == ("CheckpointError: no checkpoint at 'nowhere/model': "
                           'nowhere/model.index does not exist')


def test_state_file_forgot_a_checkpoint(model, tmp_path):
    ok(model, '%saveckpt ck/m --step 1')
    ok(model, '%saveckpt ck/m --step 2')
    (tmp_path / 'ck' / 'checkpoint').unlink()
    ok(model, '%saveckpt ck/other')
    frame = ok(model, '%ckpts ck')
    assert frame['prefix'].tolist() == ['ck/m-1', 'ck/m-2', 'ck/other']
    assert frame['latest'].tolist() == [False, False, True]


def test_moved_checkpoint_folder_still_restores(model, tmp_path):
    ok(model, '%saveckpt ck/m --step 3')
    os.rename(tmp_path / 'ck', tmp_path / 'moved')
    assert tf.train.latest_checkpoint(str(tmp_path / 'moved')) == str(tmp_path / 'moved' / 'm-3')
    set_values(model, [[0.0, 0.0], [0.0, 0.0]], [0, 0, 0])
    ok(model, '%restoreckpt moved')
    assert values(model)[1].tolist() == [5, 6, 7]


# -- the key-by-key comparison behind %inspectckpt and %restoreckpt: the
# shortcut for the graph's own checkpoint, the general path, the cached graph index


@pytest.fixture
def saved(model):
    """The model, saved to checkpoints/model."""
    ok(model, '%saveckpt')
    return model


def columns(comparison):
    return (comparison.name, comparison.key, comparison.shape, comparison.dtype,
            comparison.status)


def write(prefix, tensors: dict):
    """A V2 checkpoint holding ``tensors`` (key -> value), written eagerly."""
    keys = list(tensors)
    tf.raw_ops.SaveV2(prefix=str(prefix), tensor_names=keys, shape_and_slices=[''] * len(keys),
                      tensors=[tf.constant(tensors[k]) for k in keys])


def test_the_shortcut_for_the_graphs_own_checkpoint_agrees_with_the_general_path(saved):
    index = checkpoints.read_index('checkpoints/model')
    graph = tfmagic.checkpointer().graph_index()
    shortcut = checkpoints.compare(index, graph)
    # A mapping that renames nothing sends the same checkpoint key by key.
    general = checkpoints.compare(index, graph, {'elsewhere': 'other'})
    expected = (['net/b', 'net/w'], ['net/b', 'net/w'], [(3,), (2, 2)],
                ['int32', 'float32'], ['match', 'match'])
    assert columns(shortcut) == columns(general) == expected
    assert [e.variable for e in shortcut.entries()] == [
        tfmagic.tracker().variable(n) for n in ('net/b', 'net/w')]


def test_a_checkpoint_that_differs_in_every_way_is_listed_in_name_order(saved, tmp_path):
    ok(saved, "%%tfscope net\nc = tf.compat.v1.get_variable('c', [4], dtype=tf.float64)")
    write(tmp_path / 'odd', {'net/w': [1.0, 2.0], 'net/b': [1.0, 2.0, 3.0],
                             'net/a': [0.0], 'zz': [1]})
    frame = ok(saved, f'%inspectckpt {tmp_path}/odd')
    assert frame.to_dict('records') == [
        {'name': 'net/a', 'shape': (1,), 'dtype': 'float32', 'status': 'missing in graph'},
        {'name': 'net/b', 'shape': (3,), 'dtype': 'float32', 'status': 'dtype mismatch'},
        {'name': 'net/c', 'shape': (4,), 'dtype': 'float64', 'status': 'missing in checkpoint'},
        {'name': 'net/w', 'shape': (2,), 'dtype': 'float32', 'status': 'shape mismatch'},
        {'name': 'zz', 'shape': (1,), 'dtype': 'int32', 'status': 'missing in graph'}]


def test_the_graph_index_follows_new_variables_and_resets(saved):
    def statuses():
        return ok(saved, '%inspectckpt checkpoints/model').set_index('name')['status'].to_dict()

    assert statuses() == {'net/b': 'match', 'net/w': 'match'}
    ok(saved, "%%tfscope net\nextra = tf.compat.v1.get_variable('extra', [4])")
    assert statuses() == {'net/b': 'match', 'net/extra': 'missing in checkpoint', 'net/w': 'match'}
    # The same number of variables, under the same names, after a reset: the
    # index is rebuilt, not recognised by the ids of freed variables.
    ok(saved, '%tfreset')
    ok(saved, "%%tfscope net\nw = tf.compat.v1.get_variable('w', [3])\n"
              "b = tf.compat.v1.Variable([5, 6, 7], name='b')")
    assert statuses() == {'net/b': 'match', 'net/w': 'shape mismatch'}
    error = run(saved, '%restoreckpt').error_in_exec
    assert 'net/w: shape (2, 2) in checkpoint, (3,) in graph' in str(error)


def test_variables_of_partly_known_or_unknown_shape_match_the_stored_shape(saved):
    ok(saved, '%tfreset')
    ok(saved, "%%tfscope net\n"
              "w = tf.compat.v1.Variable(tf.compat.v1.placeholder_with_default(\n"
              "    tf.zeros([2, 2]), shape=[None, 2]), name='w')\n"
              "b = tf.compat.v1.Variable(tf.compat.v1.placeholder_with_default(\n"
              "    [0, 0, 0], shape=None), name='b')")
    assert ok(saved, '(w.shape.as_list(), b.shape.rank)') == ([None, 2], None)
    frame = ok(saved, '%inspectckpt checkpoints/model')
    assert frame['status'].tolist() == ['match', 'match']
    ok(saved, '%restoreckpt')
    assert ok(saved, 'b.eval()').tolist() == [5, 6, 7]
    assert ok(saved, 'w.eval()').tolist() == [[1.0, 2.0], [3.0, 4.0]]


def test_object_path_keys_compare_without_an_object_graph(saved, tmp_path):
    # Keys as tf.train.Checkpoint names them, in a checkpoint without its
    # object graph (written by hand, or by another tool).
    write(tmp_path / 'objects', {'net/w/.ATTRIBUTES/VARIABLE_VALUE': [[9.0, 9.0], [9.0, 9.0]],
                                 'net/b/.ATTRIBUTES/VARIABLE_VALUE': [1, 2, 3]})
    frame = ok(saved, f'%inspectckpt {tmp_path}/objects')
    assert frame['status'].tolist() == ['match', 'match']
    ok(saved, f'%restoreckpt {tmp_path}/objects')
    assert ok(saved, 'b.eval()').tolist() == [1, 2, 3]


def test_two_keys_for_one_variable_the_first_in_key_order_counts(saved, tmp_path):
    write(tmp_path / 'two', {'net/w': [[9.0, 9.0], [9.0, 9.0]], 'old/w': [[0.0, 0.0], [0.0, 0.0]],
                             'net/b': [1, 2, 3]})
    comparison = tfmagic.checkpointer().compare(str(tmp_path / 'two'), {'old': 'net'})
    assert list(zip(comparison.key, comparison.name, comparison.status, strict=True)) == [
        ('net/b', 'net/b', 'match'), ('net/w', 'net/w', 'match'),
        ('old/w', 'net/w', 'missing in graph')]
    ok(saved, f'%restoreckpt {tmp_path}/two --map old=net --allow-missing')
    assert ok(saved, 'w.eval()').tolist() == [[9.0, 9.0], [9.0, 9.0]]
    assert ok(saved, 'b.eval()').tolist() == [1, 2, 3]


def test_saving_a_subset_keeps_the_index_of_all_variables(saved):
    ok(saved, '%saveckpt checkpoints/part --vars net/w')
    ok(saved, '%saveckpt checkpoints/part --vars net/w')  # a re-save: compared with the subset
    frame = ok(saved, '%inspectckpt checkpoints/part')
    assert frame.set_index('name')['status'].to_dict() == {
        'net/b': 'missing in checkpoint', 'net/w': 'match'}
