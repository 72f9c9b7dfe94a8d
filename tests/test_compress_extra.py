"""Without the compress extra, compress and decompress say which extra they need, in one line."""


def test_missing_constriction_names_the_extra(tmp_path):
    import subprocess
    import sys

    src = tmp_path / "a.txt"
    src.write_text("hello", encoding="utf-8")
    code = (
        "import sys; sys.modules['constriction'] = None\n"
        "from rnnlm.cli.main import main\n"
        f"sys.exit(main(['compress', {str(src)!r}, '-o', {str(tmp_path / 'a.rz')!r}, '--online']))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr[-1000:]
    assert proc.stderr.strip().splitlines()[-1].startswith("error: compress and decompress need constriction")
