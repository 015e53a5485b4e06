from setuptools import find_packages, setup

# sql/ sits at the top of the repository, beside mojule/, and is read from there in a
# checkout (pip install -e). A wheel ships it inside the package, as mojule/sql, where
# mojule.db looks first: without it an installed Mojule has no statements to run.
setup(
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
