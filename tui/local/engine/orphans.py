"""Process groups that a crashed endpoint left running, found and ended at the next start.

Every shell or program an action starts (Commands, CodeBuild, Lambda-invoke functions) leads
a process group of its own. A clean shutdown ends those groups; a SIGKILL, an OOM kill or a
power cut does not, and the groups run on, reparented to init, doing work (a build still
deploying) for an action the next start marks Failed as interrupted. So each group is written
down in the engine's database when it starts and struck off once it is gone; at the next
start, before any action runs, every group still written down and still alive is ended.

Decisions recorded here:

- A group is recorded by its id (the leader's pid) plus what identifies that exact leader
  against pid reuse: its start time (`/proc/<pid>/stat` field 22, clock ticks since boot)
  and the boot id (`/proc/sys/kernel/random/boot_id`). The row is committed as soon as the
  group exists, before the provider reads a line of its output; it is deleted when the group
  has been seen gone (after the provider's normal teardown or a cancellation). A group that
  outlived even its SIGKILL keeps its row, so the next start tries again. A crash in the
  milliseconds between the fork and that commit is not covered.
- At start-up a group is ended only when its leader is alive, on the same boot, with the
  recorded start time, and still leads that group. [I] A group whose leader has exited is
  left alone even if other members remain: once the leader is gone nothing tells our group
  apart from an unrelated one that got the same id, and ending a stranger's processes is
  worse than leaving ours. Rows that do not match are dropped without a signal.
- [I] Ending: SIGTERM to the group, then SIGKILL to whatever is left after
  `KILL_GRACE_SECONDS` (2 s), waiting at most `KILL_WAIT_SECONDS` more for it to go. This
  blocks the start (which answers no request yet) only when a group was found. One warning
  line is logged per group ended.
- [I] Where there is no `/proc` with start times and a boot id (macOS, BSDs), nothing is
  recorded and nothing is ended at start-up: without a start time a recorded pid cannot be
  told apart from a reused one.
- The table is this module's own (`orphan_process_groups`) in the engine's database. Records
  are only ever written and read on the event loop's thread, like every other store.
"""

from __future__ import annotations

import logging
import signal
import sqlite3
import time
from dataclasses import dataclass

from tui.local.engine.db import notify_commit
from tui.local.engine.providers.job import ActionJob
from tui.local.engine.providers.shell import group_alive, signal_group

log = logging.getLogger(__name__)

KILL_GRACE_SECONDS = 2.0
KILL_WAIT_SECONDS = 2.0
BOOT_ID_PATH = "/proc/sys/kernel/random/boot_id"

SCHEMA = """
CREATE TABLE IF NOT EXISTS orphan_process_groups (
    pgid INTEGER PRIMARY KEY,
    start_time INTEGER NOT NULL,
    boot_id TEXT NOT NULL,
    owner TEXT NOT NULL
);
"""


@dataclass(frozen=True)
class GroupIdentity:
    """One process group leader, told apart from any later process with the same pid."""

    pgid: int
    start_time: int
    boot_id: str


@dataclass(frozen=True)
class _ProcStat:
    state: str
    pgrp: int
    start_time: int


def _read_stat(pid: int) -> _ProcStat | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: fields start after the last ")".
    fields = stat[stat.rfind(b")") + 2 :].split()
    # fields[0] is field 3 (state), fields[2] field 5 (pgrp), fields[19] field 22 (starttime).
    if len(fields) < 20:
        return None
    return _ProcStat(fields[0].decode(), int(fields[2]), int(fields[19]))


def boot_id() -> str | None:
    try:
        with open(BOOT_ID_PATH, encoding="ascii") as f:
            return f.read().strip() or None
    except OSError:
        return None


def identify(pid: int) -> GroupIdentity | None:
    """The identity of process `pid` as a group leader; None where it cannot be told (no
    /proc, the process is gone or a zombie)."""
    booted = boot_id()
    stat = _read_stat(pid)
    if booted is None or stat is None or stat.state == "Z":
        return None
    return GroupIdentity(pid, stat.start_time, booted)


def _is_leader(identity: GroupIdentity, booted: str | None) -> bool:
    stat = _read_stat(identity.pgid)
    return (
        booted == identity.boot_id
        and stat is not None
        and stat.state != "Z"
        and stat.start_time == identity.start_time
        and stat.pgrp == identity.pgid
    )


def _wait_gone(pgid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while group_alive(pgid):
        if time.monotonic() >= deadline:
            return False
        # Polled: nothing notifies us when the last member of a group that is not our
        # child exits.
        time.sleep(0.02)
    return True


class ProcessGroups:
    """The durable list of process groups started by this data dir's actions."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        db.executescript(SCHEMA)

    def tracker(self, owner: str) -> GroupTracker:
        """What a provider hands the shell helpers for one action (`owner` names it in logs)."""
        return GroupTracker(self, owner)

    def record(self, pgid: int, owner: str) -> None:
        """Write down the group `pgid` just started (nothing where it cannot be identified)."""
        identity = identify(pgid)
        if identity is not None:
            self.remember(identity, owner)

    def remember(self, identity: GroupIdentity, owner: str) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO orphan_process_groups (pgid, start_time, boot_id, owner)"
            " VALUES (?, ?, ?, ?)",
            (identity.pgid, identity.start_time, identity.boot_id, owner),
        )
        notify_commit(self.db)

    def forget(self, pgid: int) -> None:
        self.db.execute("DELETE FROM orphan_process_groups WHERE pgid = ?", (pgid,))
        notify_commit(self.db)

    def recorded(self) -> list[tuple[GroupIdentity, str]]:
        rows = self.db.execute(
            "SELECT pgid, start_time, boot_id, owner FROM orphan_process_groups ORDER BY pgid"
        ).fetchall()
        return [(GroupIdentity(pgid, start, boot), owner) for pgid, start, boot, owner in rows]

    def end_leftovers(self, grace: float = KILL_GRACE_SECONDS) -> list[GroupIdentity]:
        """End every recorded group whose leader still runs (see the module docstring) and
        drop every row; returns the groups ended. Only call it while no action runs."""
        booted = boot_id()
        ended: list[GroupIdentity] = []
        for identity, owner in self.recorded():
            if _is_leader(identity, booted):
                self._end(identity.pgid, grace)
                if group_alive(identity.pgid):
                    log.warning(
                        "process group %d of %s survived SIGKILL; trying again at the next start",
                        identity.pgid,
                        owner,
                    )
                    continue
                log.warning(
                    "ended process group %d of %s, left running when the endpoint last stopped",
                    identity.pgid,
                    owner,
                )
                ended.append(identity)
            self.forget(identity.pgid)
        return ended

    @staticmethod
    def _end(pgid: int, grace: float) -> None:
        signal_group(pgid, signal.SIGTERM)
        if not _wait_gone(pgid, grace):
            signal_group(pgid, signal.SIGKILL)
            _wait_gone(pgid, KILL_WAIT_SECONDS)


@dataclass(frozen=True)
class GroupTracker:
    """One action's link to the list: the shell helpers call `started` right after a group is
    spawned and `ended` once it has been seen gone."""

    groups: ProcessGroups
    owner: str

    def started(self, pgid: int) -> None:
        self.groups.record(pgid, self.owner)

    def ended(self, pgid: int) -> None:
        self.groups.forget(pgid)


def action_tracker(groups: ProcessGroups | None, job: ActionJob) -> GroupTracker | None:
    """The tracker for the groups of one action run (None when the provider keeps no list)."""
    if groups is None:
        return None
    return groups.tracker(
        f"action {job.pipeline_name}/{job.stage_name}/{job.action_name}"
        f" (execution {job.action_execution_id})"
    )
