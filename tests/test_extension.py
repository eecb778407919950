"""%load_ext / %unload_ext / %reload_ext leave nothing behind and never double up."""

import tensorflow as tf

import tfmagic
from tests.shell import ok, run
from tfmagic.cellhooks import RESET_GUARD

MAGICS = {('line', 'vars'), ('line', 'tfreset'), ('cell', 'tfscope'), ('line', 'saveckpt'),
          ('line', 'restoreckpt'), ('line', 'ckpts'), ('line', 'inspectckpt'), ('line', 'tfpanel')}


def _registered(shell):
    return {(kind, name) for kind, table in shell.magics_manager.magics.items()
            for name in table} & MAGICS


def _our_callbacks(shell):
    return [cb for event in ('pre_run_cell', 'post_run_cell')
            for cb in shell.events.callbacks[event]
            if getattr(cb, '__module__', '').startswith('tfmagic')]


def test_unload_leaves_nothing_behind(ip):
    graph = tfmagic.workspace().graph
    ok(ip, "v = tf.compat.v1.get_variable('v', [1])")
    ok(ip, '%unload_ext tfmagic')
    assert _registered(ip) == set()
    assert _our_callbacks(ip) == []
    assert RESET_GUARD not in ip.user_ns
    assert not any(type(t).__module__.startswith('tfmagic') for t in ip.ast_transformers)
    assert not any(type(c).__name__ == 'TFMagic' for c in ip.configurables)
    ok(ip, 'plain_graph = tf.compat.v1.get_default_graph()\neager = tf.executing_eagerly()')
    assert ip.user_ns['plain_graph'] is not graph
    assert ip.user_ns['eager'] is True
    result = run(ip, '%vars')
    assert not result.success
    try:
        tfmagic.workspace()
    except RuntimeError as err:
        assert 'load_ext tfmagic' in str(err)
    else:
        raise AssertionError('workspace() must fail once unloaded')


def test_reload_registers_once_and_works(ip):
    ok(ip, '%reload_ext tfmagic')
    ok(ip, '%reload_ext tfmagic')
    assert _registered(ip) == MAGICS
    assert len(_our_callbacks(ip)) == 2
    assert sum(type(t).__name__ == 'ResetDefaultGraphTransformer'
               for t in ip.ast_transformers) == 1
    ok(ip, "w = tf.compat.v1.get_variable('w', [2])")
    frame = ok(ip, '%vars')
    assert list(frame['name']) == ['w']
    assert frame['reuses'].tolist() == [0]


def test_settings_made_with_config_survive_a_reload(ip):
    ok(ip, '%config TFMagic.auto_init = False')
    ok(ip, "%config TFMagic.checkpoint_dir = 'elsewhere'")
    try:
        ok(ip, '%reload_ext tfmagic')
        ok(ip, "u = tf.compat.v1.get_variable('u', [1])")
        assert ok(ip, '%vars')['initialized'].tolist() == [False]
        magics, = [c for c in ip.configurables if type(c).__name__ == 'TFMagic']
        assert (magics.auto_init, magics.checkpoint_dir) == (False, 'elsewhere')
    finally:
        ok(ip, "%config TFMagic.checkpoint_dir = 'checkpoints'")


def test_load_twice_is_a_no_op(ip):
    ws = tfmagic.workspace()
    ip.run_line_magic('load_ext', 'tfmagic')
    assert tfmagic.workspace() is ws
    assert len(_our_callbacks(ip)) == 2


def test_eager_mode_outside_cells_is_untouched(ip):
    ok(ip, 'inside = tf.executing_eagerly()')
    assert ip.user_ns['inside'] is False
    assert tf.executing_eagerly()
    assert tf.compat.v1.get_default_graph() is not tfmagic.workspace().graph
