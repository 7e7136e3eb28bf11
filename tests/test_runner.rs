//! `bp test` on a small project: passing, failing and throwing tests, globals per
//! file, imports from the project root, `-k`, files that do not compile.

mod support;

use support::{Bp, TempDir};

fn project() -> TempDir {
    let dir = TempDir::new("bp-test-project");
    std::fs::create_dir_all(dir.path().join("tests")).unwrap();
    dir.write(
        "shapes.bp",
        "export def area(w: int, h: int) -> int:\n    return w * h\n",
    );
    dir.write(
        "tests/test_shapes.bp",
        "import shapes\n\nlet CALLS: int = 0\n\ndef test_area() -> void:\n    CALLS = CALLS + 1\n    assert shapes.area(2, 3) == 6\n\ndef test_area_wrong() -> void:\n    print(\"computing\")\n    assert shapes.area(2, 2) == 5, \"2 x 2 is not 5\"\n\ndef test_globals_are_shared_in_a_file() -> void:\n    assert CALLS == 1\n\ndef helper_not_run() -> void:\n    assert false\n",
    );
    dir.write(
        "tests/test_errors.bp",
        "def test_index() -> void:\n    let xs: [int] = [1]\n    print(xs[3])\n\ndef test_throw() -> void:\n    throw \"boom\"\n",
    );
    dir.write("notes.bp", "def test_never_found() -> void:\n    assert false\n");
    dir
}

#[test]
fn reports_each_test_and_a_summary() {
    let dir = project();
    let run = Bp::new(["test"]).current_dir(dir.path()).run();
    let out = run.stdout_text();
    assert_eq!(
        run.code("bp test"),
        1,
        "stdout:\n{out}\nstderr:\n{}",
        run.stderr_text()
    );
    for line in [
        "tests/test_shapes.bp::test_area ... ok",
        "tests/test_shapes.bp::test_area_wrong ... FAILED",
        "tests/test_shapes.bp:11:5: unhandled exception: assertion failed: 2 x 2 is not 5",
        "    --- output ---\n    computing",
        "tests/test_shapes.bp::test_globals_are_shared_in_a_file ... ok",
        "tests/test_errors.bp::test_index ... FAILED",
        "tests/test_errors.bp:3:11: runtime error: array index out of bounds",
        "tests/test_errors.bp::test_throw ... FAILED",
        "unhandled exception: boom",
        "2 passed, 3 failed",
    ] {
        assert!(out.contains(line), "missing {line:?} in:\n{out}");
    }
    assert!(
        !out.contains("helper_not_run") && !out.contains("test_never_found"),
        "{out}"
    );
}

#[test]
fn k_selects_tests_by_name_and_all_passing_exits_zero() {
    let dir = project();
    let run = Bp::new(["test", "-k", "area"])
        .arg("tests/test_shapes.bp")
        .current_dir(dir.path())
        .run();
    let out = run.stdout_text();
    assert_eq!(run.code("bp test -k area"), 1, "{out}");
    assert!(out.ends_with("1 passed, 1 failed\n"), "{out}");
    // Alone, `test_globals...` sees CALLS == 0: the globals are the file's own, fresh
    // for this run.
    let alone = Bp::new(["test", "-k", "globals"])
        .arg("tests")
        .current_dir(dir.path())
        .run();
    assert_eq!(alone.code("bp test -k globals"), 1, "{}", alone.stdout_text());
    dir.write(
        "tests/test_good.bp",
        "def test_fine() -> void:\n    assert 1 + 1 == 2\n",
    );
    let good = Bp::new(["test", "--no-jit", "tests/test_good.bp"])
        .current_dir(dir.path())
        .run();
    assert_eq!(good.code("bp test on passing tests"), 0, "{}", good.stdout_text());
    assert_eq!(
        good.stdout_text(),
        "tests/test_good.bp::test_fine ... ok\n1 passed, 0 failed\n"
    );
}

#[test]
fn a_file_that_does_not_compile_is_reported() {
    let dir = TempDir::new("bp-test-broken");
    dir.write("test_broken.bp", "def test_x() -> void:\n    assert 1\n");
    dir.write("test_fine.bp", "def test_y() -> void:\n    assert true\n");
    let run = Bp::new(["test"]).current_dir(dir.path()).run();
    let out = run.stdout_text();
    assert_eq!(run.code("bp test"), 1);
    assert!(
        out.contains("test_broken.bp:2:12: error: assert condition must be bool, found int"),
        "{out}"
    );
    assert!(out.contains("test_broken.bp: does not compile"), "{out}");
    assert!(
        out.ends_with("1 passed, 0 failed, 1 file(s) did not compile\n"),
        "{out}"
    );
}
