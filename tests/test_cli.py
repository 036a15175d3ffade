"""The operator CLI: `python -m bot import FILE --feed URL` and `python -m bot search WORDS`."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot import cli
from bot.wxr import WxrReader

ROOT = Path(__file__).resolve().parents[1]
CAFE = Path(__file__).parent / "fixtures" / "wxr" / "cafe-fixture.wxr"
FEED = "https://cafe.example/feed/"


@pytest.fixture(autouse=True)
def no_dotenv(tmp_path, monkeypatch):
    # Settings.from_env() reads .env from the working directory: use an empty one
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DATABASE_PATH", raising=False)


def run(argv, capsys):
    code = cli.main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_import_then_search(tmp_path, capsys):
    db = str(tmp_path / "gazette.sqlite3")
    code, out, err = run(["import", str(CAFE), "--feed", FEED, "--db", db], capsys)
    assert code == 0, err
    assert "Imported 5 new posts into https://cafe.example/feed/" in out
    assert "1 draft post" in out and "1 page" in out and "1 attachment" in out

    code, out, _ = run(["import", str(CAFE), "--feed", FEED, "--db", db], capsys)
    assert code == 0
    assert "Imported 0 new posts" in out and "5 already archived" in out

    code, out, _ = run(["search", "crème", "--db", db], capsys)
    assert code == 0
    assert out.startswith("2 results (page 1 of 1)")
    assert "Le café crème parfait" in out and "Copie du café crème" in out
    assert "Amélie Poulain · 2023-03-15 · Recettes" in out
    assert "https://cafe.example/2023/03/cafe-creme/" in out
    assert "**" not in out and "\x1b[" not in out  # plain text when not a terminal

    code, out, _ = run(["search", "crème", "--format", "discord", "--db", db], capsys)
    assert "**crème**" in out


def test_search_filters_and_paging(tmp_path, capsys):
    db = str(tmp_path / "gazette.sqlite3")
    assert run(["import", str(CAFE), "--feed", FEED, "--db", db], capsys)[0] == 0
    code, out, _ = run(["search", "--author", "Amélie Poulain", "--db", db], capsys)
    assert code == 0 and out.startswith("3 results")
    code, out, _ = run(
        ["search", "--after", "2023-05-01", "--before", "2023-06-01", "--db", db], capsys
    )
    assert out.startswith("1 result (page 1 of 1)") and "Tom & Jerry" in out
    code, out, _ = run(["search", "--category", "recettes", "--feed", FEED, "--db", db], capsys)
    assert "Le café crème parfait" in out
    code, out, _ = run(["search", "café", "--per-page", "1", "--page", "2", "--db", db], capsys)
    assert "(page 2 of" in out and out.count("\n1. ") == 0 and "2. " in out
    code, out, _ = run(["search", "nothinglikethis", "--db", db], capsys)
    assert code == 0 and out == "No posts match 'nothinglikethis'.\n"
    code, out, _ = run(["search", "🚀", "(((", "--db", db], capsys)
    assert code == 0 and "nothing to search for" in out


def test_operator_mistakes_are_short_messages(tmp_path, capsys):
    db = str(tmp_path / "gazette.sqlite3")
    code, _, err = run(["import", str(CAFE), "--feed", "not a url", "--db", db], capsys)
    assert code == 1 and "is not a feed URL" in err
    code, _, err = run(["import", "missing.xml", "--feed", FEED, "--db", db], capsys)
    assert code == 1 and "no such file" in err
    bad = tmp_path / "bad.xml"
    bad.write_text("<rss><channel><item>")
    code, _, err = run(["import", str(bad), "--feed", FEED, "--db", db], capsys)
    assert code == 1 and "not a readable WordPress export" in err and "Traceback" not in err
    code, _, err = run(["search", "x", "--db", str(tmp_path / "none.sqlite3")], capsys)
    assert code == 1 and "no database" in err
    assert run(["import", str(CAFE), "--feed", FEED, "--db", db], capsys)[0] == 0
    code, _, err = run(["search", "x", "--after", "2024-02-30", "--db", db], capsys)
    assert code == 1 and "YYYY-MM-DD" in err
    code, _, err = run(["search", "x", "--feed", "https://unknown.example/", "--db", db], capsys)
    assert code == 1 and "no feed" in err


def test_database_path_comes_from_the_environment(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("DATABASE_PATH", str(tmp_path / "env.sqlite3"))
    assert run(["import", str(CAFE), "--feed", FEED], capsys)[0] == 0
    assert (tmp_path / "env.sqlite3").exists()
    code, out, _ = run(["search", "abonnés"], capsys)
    assert "Réservé aux abonnés" in out


def test_progress_bar_draws_on_a_terminal():
    class Tty(io.StringIO):
        def isatty(self):
            return True

    reader = WxrReader(CAFE)
    list(reader)
    err = Tty()
    bar = cli.ProgressBar(reader, err)
    bar._last = -1.0
    bar(5, 3)
    assert (
        "\r[" in err.getvalue()
        and "100%" in err.getvalue()
        and "5 posts read, 3 new" in err.getvalue()
    )
    bar.close()
    silent = io.StringIO()
    cli.ProgressBar(reader, silent)(5, 3)
    assert silent.getvalue() == ""


def test_python_dash_m_bot(tmp_path):
    db = str(tmp_path / "gazette.sqlite3")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("DATABASE_PATH", None)
    done = subprocess.run(
        [sys.executable, "-m", "bot", "import", str(CAFE), "--feed", FEED, "--db", db],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "Imported 5 new posts" in done.stdout
    done = subprocess.run(
        [sys.executable, "-m", "bot", "search", '"café crème"', "--db", db],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "Le café crème parfait" in done.stdout
