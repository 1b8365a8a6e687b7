from __future__ import annotations

import textwrap

import pytest

from tui.local.engine.buildspec import BuildspecError, parse_buildspec


def parse(text: str):  # type: ignore[no-untyped-def]
    return parse_buildspec(textwrap.dedent(text))


def error(text: str) -> BuildspecError:
    with pytest.raises(BuildspecError) as info:
        parse(text)
    return info.value


FULL = """\
    version: 0.2
    env:
      shell: bash
      variables:
        VERSION: 1.10
        EMPTY:
        FLAG: yes
      parameter-store:
        DB_HOST: /app/db-host
      secrets-manager:
        DB_PASSWORD: "prod/db:password"
      exported-variables:
        - VERSION
        - BUILT_AT
      git-credential-helper: no
    phases:
      install:
        runtime-versions:
          python: 3.12
        commands:
          - pip install -r requirements.txt
      pre_build:
        on-failure: CONTINUE
        commands:
          - true
          - 123
      build:
        on-failure: ABORT
        commands:
          - 'echo "key: value"'
          - |
            for f in *.py; do
              echo $f
            done
        finally:
          - echo cleanup
      post_build:
        commands:
          - echo done
    artifacts:
      files:
        - '**/*'
      base-directory: dist
      discard-paths: yes
      exclude-paths: '**/*.pyc'
      enable-symlinks: true
      name: app-$(date +%s)
      s3-prefix: builds
      secondary-artifacts:
        Docs:
          files: [index.html]
          base-directory: site
        Reports:
          files:
            - report.xml
    cache:
      paths:
        - /root/.cache/pip/**/*
"""


def test_a_full_buildspec_reads_into_the_model() -> None:
    spec = parse(FULL)
    assert spec.version == "0.2"
    assert spec.env.shell == "bash"
    # Scalars keep the text written: 1.10 is not the float 1.1, yes is not True.
    assert spec.env.variables == {"VERSION": "1.10", "EMPTY": "", "FLAG": "yes"}
    assert spec.env.parameter_store == {"DB_HOST": "/app/db-host"}
    assert spec.env.secrets_manager == {"DB_PASSWORD": "prod/db:password"}
    assert spec.env.exported_variables == ("VERSION", "BUILT_AT")
    assert spec.env.git_credential_helper is False
    assert [p.name for p in spec.phases] == ["install", "pre_build", "build", "post_build"]
    install = spec.phase("install")
    assert install.runtime_versions == {"python": "3.12"}
    assert install.commands == ("pip install -r requirements.txt",)
    assert install.phase_type == "INSTALL"
    pre_build = spec.phase("pre_build")
    assert pre_build.on_failure == "CONTINUE"
    assert pre_build.commands == ("true", "123")
    build = spec.phase("build")
    assert build.on_failure == "ABORT"
    assert build.commands[0] == 'echo "key: value"'
    assert build.commands[1] == "for f in *.py; do\n  echo $f\ndone\n"
    assert build.finally_commands == ("echo cleanup",)
    assert spec.phase("post_build").on_failure is None
    assert spec.artifacts is not None
    assert spec.artifacts.files == ("**/*",)
    assert spec.artifacts.base_directory == "dist"
    assert spec.artifacts.discard_paths is True
    assert spec.artifacts.exclude_paths == ("**/*.pyc",)
    assert spec.artifacts.enable_symlinks is True
    assert spec.artifacts.name == "app-$(date +%s)"
    assert spec.artifacts.s3_prefix == "builds"
    assert set(spec.secondary_artifacts) == {"Docs", "Reports"}
    assert spec.secondary_artifacts["Docs"].files == ("index.html",)
    assert spec.secondary_artifacts["Docs"].base_directory == "site"
    assert spec.secondary_artifacts["Reports"].discard_paths is False
    assert any("runtime-versions (python 3.12)" in note for note in spec.notes)
    assert any(note.startswith("cache is ignored") for note in spec.notes)
    assert spec.line_of("env.parameter-store.DB_HOST") == 9


def test_a_minimal_buildspec_has_all_four_phases_empty_but_declared_ones() -> None:
    spec = parse(
        """\
        version: "0.2"
        phases:
          build:
            commands:
              - make
        """
    )
    assert spec.env.shell is None
    assert spec.artifacts is None
    assert spec.secondary_artifacts == {}
    assert [(p.name, p.commands) for p in spec.phases] == [
        ("install", ()),
        ("pre_build", ()),
        ("build", ("make",)),
        ("post_build", ()),
    ]
    assert spec.notes == ()


def test_version_0_1_is_accepted() -> None:
    assert parse("version: 0.1\nphases:\n  build:\n    commands: [ls]\n").version == "0.1"


def test_anchors_and_merges_work() -> None:
    spec = parse(
        """\
        version: 0.2
        env:
          variables: &common
            A: one
            B: two
        phases:
          build:
            commands: &steps
              - echo a
              - echo b
          post_build:
            commands: *steps
        artifacts:
          <<: {files: [x], discard-paths: yes}
          base-directory: out
        """
    )
    assert spec.phase("post_build").commands == ("echo a", "echo b")
    assert spec.artifacts is not None
    assert spec.artifacts.files == ("x",)
    assert spec.artifacts.discard_paths is True
    assert spec.artifacts.base_directory == "out"


def test_ignored_sections_leave_notes() -> None:
    spec = parse(
        """\
        version: 0.2
        proxy:
          upload-artifacts: yes
        batch:
          fast-fail: false
        env:
          git-credential-helper: yes
        phases:
          build:
            commands: [make]
        """
    )
    assert spec.has_batch is True
    notes = "\n".join(spec.notes)
    assert "proxy has no effect locally" in notes
    assert "git-credential-helper has no effect locally" in notes


# --- errors name the key and the line, in CodeBuild's words ----------------------------


def test_errors_read_like_codebuilds_yaml_file_error() -> None:
    exc = error("version: 0.3\n")
    assert (
        str(exc) == "YAML_FILE_ERROR Message: version: unsupported version '0.3'; use 0.2 (line 1)"
    )
    assert exc.message == "version: unsupported version '0.3'; use 0.2 (line 1)"
    assert exc.key == "version"
    assert exc.line == 1


@pytest.mark.parametrize(
    ("text", "key", "line", "words"),
    [
        ("", None, None, "the buildspec is empty"),
        ("- a\n- b\n", None, 1, "expected the buildspec to be a mapping"),
        ("phases:\n  build:\n    commands: [ls]\n", "version", None, "version is required"),
        ("version: 0.2\nphases:\n  build:\n    commands: [a\n", None, 5, "not valid YAML"),
        ("version: 0.2\n\tphases: {}\n", None, 2, "not valid YAML"),
        ("version: 0.2\nphase:\n  build: {}\n", None, 2, "unknown key 'phase'"),
        ("version: 0.2\nversion: 0.2\n", None, 2, "the key 'version' appears twice"),
        (
            "version: 0.2\nrun-as: root\n",
            "run-as",
            2,
            "local builds run as the endpoint's own user",
        ),
        (
            "version: 0.2\nphases:\n  build:\n    run-as: builder\n    commands: [ls]\n",
            "phases.build.run-as",
            4,
            "run-as is not supported locally",
        ),
        (
            "version: 0.2\nreports:\n  unit-tests:\n    files: [r.xml]\n",
            "reports",
            2,
            "test reports (unit-tests) need CodeBuild report groups",
        ),
        (
            "version: 0.2\nphases:\n  test:\n    commands: [ls]\n",
            "phases",
            3,
            "unknown key 'test'; the keys allowed here are: install, pre_build, build, post_build",
        ),
        ("version: 0.2\nphases:\n  build:\n", "phases.build", 3, "commands is required"),
        (
            "version: 0.2\nphases:\n  build:\n    finally: [ls]\n",
            "phases.build",
            3,
            "commands is required",
        ),
        (
            "version: 0.2\nphases:\n  build:\n    commands:\n      - echo key: value\n",
            "phases.build.commands[0]",
            5,
            "quote a command that contains ': '",
        ),
        (
            "version: 0.2\nphases:\n  build:\n    commands:\n      - ls\n      -\n",
            "phases.build.commands[1]",
            6,
            "a value is required",
        ),
        (
            "version: 0.2\nphases:\n  build:\n    commands: make\n",
            "phases.build.commands",
            4,
            "expected a list of commands",
        ),
        (
            "version: 0.2\nphases:\n  build:\n    on-failure: RETRY\n    commands: [ls]\n",
            "phases.build.on-failure",
            4,
            "expected ABORT or CONTINUE, found 'RETRY'",
        ),
        (
            "version: 0.2\nphases:\n  build:\n    runtime-versions: {python: 3}\n    commands: [ls]\n",
            "phases.build.runtime-versions",
            4,
            "allowed only in the install phase",
        ),
        (
            "version: 0.2\nenv:\n  shell: powershell.exe\n",
            "env.shell",
            3,
            "the Windows shell powershell.exe cannot run here",
        ),
        ("version: 0.2\nenv:\n  shell: zsh\n", "env.shell", 3, "unsupported shell 'zsh'"),
        (
            "version: 0.2\nenv:\n  variables:\n    CODEBUILD_X: 1\n",
            "env.variables.CODEBUILD_X",
            4,
            "reserved",
        ),
        (
            "version: 0.2\nenv:\n  variables:\n    not-a-name: 1\n",
            "env.variables.not-a-name",
            4,
            "not a valid environment variable name",
        ),
        (
            "version: 0.2\nenv:\n  variables:\n    LIST: [1, 2]\n",
            "env.variables.LIST",
            4,
            "expected a value, found a list",
        ),
        (
            "version: 0.2\nenv:\n  parameter-store:\n    HOST:\n",
            "env.parameter-store.HOST",
            4,
            "a value is required",
        ),
        (
            "version: 0.2\nenv:\n  exported-variables: [OK, AWS_REGION]\n",
            "env.exported-variables[1]",
            3,
            "AWS_REGION cannot be exported",
        ),
        (
            "version: 0.2\nenv:\n  verbose: yes\n",
            "env",
            3,
            "unknown key 'verbose'",
        ),
        (
            "version: 0.2\nartifacts:\n  name: out\n",
            "artifacts",
            2,
            "files is required",
        ),
        (
            "version: 0.2\nartifacts:\n  files: [a]\n  discard-paths: maybe\n",
            "artifacts.discard-paths",
            4,
            "expected yes or no, found 'maybe'",
        ),
        (
            "version: 0.2\nartifacts:\n  files: [a]\n  secondary-artifacts:\n    Two:\n      name: x\n",
            "artifacts.secondary-artifacts.Two",
            5,
            "files is required",
        ),
        (
            "version: 0.2\nartifacts:\n  files: [a]\n  secondary-artifacts:\n    Two:\n      files: [b]\n      secondary-artifacts: {}\n",
            "artifacts.secondary-artifacts.Two",
            7,
            "unknown key 'secondary-artifacts'",
        ),
        ("version: 0.2\nphases: [build]\n", "phases", 2, "expected a mapping, found a list"),
    ],
)
def test_bad_buildspecs_are_refused_naming_the_key_and_line(
    text: str, key: str | None, line: int | None, words: str
) -> None:
    exc = error(text)
    assert words in exc.message
    assert str(exc).startswith("YAML_FILE_ERROR Message: ")
    assert exc.key == key
    assert exc.line == line
