"""Fixtures shared by the test modules (the fake Discord, Gazette against it)."""

pytest_plugins = ["tests.fakediscord_fixtures", "tests.harness", "tests.wordpress_fixture"]
