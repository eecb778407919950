"""Hints under the two classic errors, and the re-run duplicate note."""


from tests.shell import ok, run


def _fails_with_hint(ip, capsys, code):
    capsys.readouterr()
    result = run(ip, code)
    assert not result.success
    return result.error_in_exec, capsys.readouterr().out


def test_already_exists_names_the_cell_and_the_fixes(ip, capsys):
    ok(ip, "%%tfscope layer\nw = tf.compat.v1.get_variable('w', [1])")
    cell = ip.execution_count - 1
    error, out = _fails_with_hint(ip, capsys, "%%tfscope layer\nw = tf.compat.v1.get_variable('w', [1])")
    assert 'already exists, disallowed' in str(error)
    hint = out[out.index('tfmagic:'):].splitlines()
    assert hint == [
        f'tfmagic: layer/w already exists: get_variable created it in cell [{cell}].',
        "  To share it, run the cell with %%tfscope layer --reuse, or in code use "
        "variable_scope('layer', reuse=tf.compat.v1.AUTO_REUSE), which also creates what is missing.",
        '  To start over with a fresh graph instead, run %tfreset.']


def test_already_exists_at_the_root_suggests_auto_reuse(ip, capsys):
    ok(ip, "v = tf.compat.v1.get_variable('v', [1])")
    _, out = _fails_with_hint(ip, capsys, "v = tf.compat.v1.get_variable('v', [1])")
    assert 'tf.compat.v1.variable_scope(tf.compat.v1.get_variable_scope(), ' \
           'reuse=tf.compat.v1.AUTO_REUSE)' in out


def test_get_variable_cannot_return_a_tf_variable(ip, capsys):
    ok(ip, "%%tfscope net\nk = tf.compat.v1.Variable(1.0, name='k')")
    cell = ip.execution_count - 1
    error, out = _fails_with_hint(ip, capsys, "%%tfscope net --reuse\nk = tf.compat.v1.get_variable('k')")
    assert 'does not exist, or was not created with tf.get_variable()' in str(error)
    assert (f'tfmagic: net/k exists, but tf.Variable created it in cell [{cell}], '
            'so get_variable can never return it.') in out
    assert "tf.compat.v1.get_variable('k', ...)" in out


def test_missing_variable_suggests_similar_names(ip, capsys):
    ok(ip, "%%tfscope net\nkernel = tf.compat.v1.get_variable('kernel', [1])")
    _, out = _fails_with_hint(ip, capsys, "%%tfscope net --reuse\nk = tf.compat.v1.get_variable('kernal')")
    assert 'tfmagic: No variable named net/kernal exists' in out
    assert 'AUTO_REUSE' in out
    assert 'Similar names in the graph: net/kernel.' in out


def test_errors_without_a_hint_print_nothing_extra(ip, capsys):
    _, out = _fails_with_hint(ip, capsys, "raise ValueError('unrelated')")
    assert 'tfmagic:' not in out


def test_rerunning_a_cell_that_duplicates_tf_variables_says_so_once(ip, capsys):
    cell = "foo = tf.compat.v1.Variable(1, name='foo')\nbar = tf.compat.v1.Variable(2, name='bar')"
    ok(ip, cell)
    first = ip.execution_count - 1
    assert 'tfmagic:' not in capsys.readouterr().out
    ok(ip, cell)
    out = capsys.readouterr().out
    assert out.count('tfmagic:') == 1
    assert (f'tfmagic: this cell ran before (In [{first}]) and created foo, bar; running it '
            'again created foo_1, bar_1 beside them') in out
    assert '%tfreset' in out
    ok(ip, cell)
    assert 'created foo_1, bar_1; running it again created foo_2, bar_2' in capsys.readouterr().out


def test_scoped_reruns_are_recognized(ip, capsys):
    cell = "with tf.compat.v1.variable_scope('blk'):\n    a = tf.compat.v1.Variable(1, name='a')"
    ok(ip, cell)
    ok(ip, cell)
    assert 'created blk/a; running it again created blk_1/a beside it' in capsys.readouterr().out


def test_no_note_for_a_different_cell_or_after_tfreset(ip, capsys):
    ok(ip, "one = tf.compat.v1.Variable(1, name='foo')")
    ok(ip, "two = tf.compat.v1.Variable(1, name='foo')  # another cell")
    assert 'ran before' not in capsys.readouterr().out
    ok(ip, '%tfreset')
    ok(ip, "one = tf.compat.v1.Variable(1, name='foo')")
    assert 'ran before' not in capsys.readouterr().out
    assert ok(ip, 'one.op.name') == 'foo'


def test_get_variable_reruns_need_no_note(ip, capsys):
    cell = "%%tfscope s --reuse auto\ng = tf.compat.v1.get_variable('g', [1])"
    ok(ip, cell)
    ok(ip, cell)
    assert 'tfmagic:' not in capsys.readouterr().out


def test_a_new_session_is_named_as_the_cause_of_uninitialized_values(ip, capsys):
    ok(ip, "v = tf.compat.v1.get_variable('v', initializer=1.0)")
    _, out = _fails_with_hint(ip, capsys, 'with tf.compat.v1.Session() as sess:\n    sess.run(v)')
    assert "tfmagic: v has a value in tfmagic's session, but this cell ran it in another session" in out
    assert 'tf.compat.v1.get_default_session()' in out
