import subprocess
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent


def release_version() -> str | None:
    """The version of a build from a git checkout: 0.1.<commits up to it>+g<commit>.

    Every commit of main is a release candidate, and pip replaces an installed Mojule
    only with a higher version: a wheel built from a later commit must have one. In an
    sdist (no .git) the version it was made with, from its PKG-INFO; else None, and
    setup.cfg's version.
    """
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=HERE, capture_output=True, text=True,
                              check=True, timeout=30).stdout.strip()

    try:
        return f"0.1.{git('rev-list', '--count', 'HEAD')}+g{git('rev-parse', '--short=7', 'HEAD')}"
    except (OSError, subprocess.SubprocessError):
        pass
    pkg_info = HERE / "PKG-INFO"
    if pkg_info.exists():
        for line in pkg_info.read_text().splitlines():
            if line.startswith("Version: "):
                return line.removeprefix("Version: ")
    return None


# sql/ sits at the top of the repository, beside mojule/, and is read from there in a
# checkout (pip install -e). A wheel ships it inside the package, as mojule/sql, where
# mojule.db looks first: without it an installed Mojule has no statements to run.
version = release_version()
setup(
    **({"version": version} if version else {}),
    packages=[*find_packages(include=["mojule", "mojule.*"]), "mojule.sql",
              "mojule.sql.migrations"],
    package_dir={"mojule.sql": "sql"},
    package_data={
        "mojule": ["templates/*.html", "templates/*/*.html", "static/*", "static/*/*",
                   "static/vendor/*/*"],
        "mojule.sql": ["*.sql"],
        "mojule.sql.migrations": ["*.sql"],
    },
)
