"""Fault injection against a running Ensemble while the workload runs.

Each round injects one fault, holds it until the workload has made progress
(or a deadline passes, e.g. when no quorum is left), then repairs it and waits
until every server serves reads again. Holding on progress rather than on a
clock keeps rounds short on an idle machine and still meaningful on a loaded one.
"""

from __future__ import annotations

import random
import time
from typing import Callable, List

from ensemble import Ensemble
from waits import wait_until
from workload import History

FAULTS = ("kill_leader", "kill_follower", "pause", "partition_leader")

# A fault is held until this many more writes (drawn per round) are
# acknowledged, or HOLD_TIMEOUT passes when no write can get through.
PROGRESS_WRITES = (30, 200)
HOLD_TIMEOUT = 30.0
# Deadline for the leader to notice that a follower is gone (syncLimit ticks).
DROP_TIMEOUT = 30.0


class Nemesis:
    def __init__(self, ensemble: Ensemble, history: History, rng: random.Random,
                 log: Callable[[str], None] = print) -> None:
        self.ensemble = ensemble
        self.history = history
        self.rng = rng
        self.log = log
        self.events: List[str] = []
        # Seconds from each heal until the cut-off leader served a read again.
        self.heal_to_serving: List[float] = []

    def schedule(self, rounds: int) -> List[str]:
        """Every fault kind once per len(FAULTS) rounds, in a seeded order."""
        plan: List[str] = []
        while len(plan) < rounds:
            batch = list(FAULTS)
            self.rng.shuffle(batch)
            plan.extend(batch)
        return plan[:rounds]

    def note(self, message: str) -> None:
        line = f"[{self.history.now() / 1e9:8.3f}s] {message}"
        self.events.append(line)
        self.log(line)

    def hold(self) -> None:
        target = self.history.acked_writes + self.rng.randint(*PROGRESS_WRITES)
        progressed = self.history.wait_acked_writes(target, HOLD_TIMEOUT)
        self.note(f"  held: {'progress' if progressed else 'no progress'} "
                  f"({self.history.acked_writes} writes acknowledged so far)")

    def run(self, fault: str) -> None:
        getattr(self, fault)()
        self.ensemble.wait_serving()
        self.note("  all servers serving")
        self.wait_all_synced()

    def wait_all_synced(self) -> None:
        """Starts the next round from a full quorum when the leader can tell.

        Serving one read does not prove a follower is back for good: Apache
        3.8.0 can leave a restarted follower in a loop of failed syncs while
        writes go on (ZOOKEEPER-4394, an NPE in Learner.syncWithLeader), and a
        minority fault in that state removes the quorum. Not fatal: the run
        goes on and the nemesis log says so.
        """
        leader = self.ensemble.wait_leader()
        if self.ensemble.synced_followers(leader) is None:
            return
        followers = len(self.ensemble.participants()) - 1
        try:
            wait_until(lambda: (self.ensemble.synced_followers(leader) or 0) >= followers,
                       DROP_TIMEOUT, f"leader {leader} to have {followers} synced followers",
                       interval=0.2)
        except TimeoutError:
            self.note(f"  leader {leader} has only {self.ensemble.synced_followers(leader)} "
                      f"synced followers after {DROP_TIMEOUT:.0f}s; going on")

    def wait_dropped(self, leader: int, victim: int) -> None:
        """Waits until the leader no longer counts the victim as a synced follower,
        so that the fault is one the ensemble has had to react to. Servers that
        do not report `zk_synced_followers` in `mntr` are not waited for."""
        synced = self.ensemble.synced_followers(leader)
        if synced is None:
            self.note("  (leader does not report zk_synced_followers; not waiting)")
            return
        expected = len(self.ensemble.participants()) - 2
        try:
            wait_until(lambda: (self.ensemble.synced_followers(leader) or 0) <= expected,
                       DROP_TIMEOUT, f"leader {leader} to drop follower {victim}", interval=0.1)
            self.note(f"  leader {leader} dropped follower {victim}")
        except TimeoutError:
            # A leader change meanwhile is a legitimate way for this to not happen.
            self.note(f"  leader {leader} did not report dropping {victim}")

    def _others(self, i: int) -> List[int]:
        return [j for j in self.ensemble.participants() if j != i]

    def kill_leader(self) -> None:
        leader = self.ensemble.wait_leader()
        self.note(f"SIGKILL leader {leader}")
        self.ensemble.kill(leader)
        new = self.ensemble.wait_leader(among=self._others(leader))
        self.note(f"  new leader {new}")
        self.hold()
        self.note(f"restart {leader}")
        self.ensemble.start(leader)

    def kill_follower(self) -> None:
        leader = self.ensemble.wait_leader()
        victim = self.rng.choice(self.ensemble.followers())
        self.note(f"SIGKILL follower {victim}")
        self.ensemble.kill(victim)
        self.wait_dropped(leader, victim)
        self.hold()
        self.note(f"restart {victim}")
        self.ensemble.start(victim)

    def pause(self) -> None:
        leader = self.ensemble.wait_leader()
        victim = self.rng.choice(self.ensemble.participants())
        role = "leader" if victim == leader else "follower"
        self.note(f"SIGSTOP {role} {victim}")
        self.ensemble.pause(victim)
        if victim == leader:
            # Keep the old leader frozen until it has been replaced, so that it
            # wakes up believing it still leads: the stale-leader case.
            new = self.ensemble.wait_leader(among=self._others(victim))
            self.note(f"  new leader {new}")
        elif self.rng.random() < 0.5:
            # Long enough for the leader to drop it: it must resync on SIGCONT.
            self.wait_dropped(leader, victim)
        self.hold()
        self.note(f"SIGCONT {victim}")
        self.ensemble.resume(victim)

    def partition_leader(self) -> None:
        leader = self.ensemble.wait_leader()
        majority = self._others(leader)
        self.note(f"partition leader {leader} from {majority}")
        self.ensemble.partition([leader], majority)
        new = self.ensemble.wait_leader(among=majority)
        self.note(f"  new leader {new} in the majority")
        self.hold()
        self.note("heal partition")
        healed = time.monotonic()
        self.ensemble.heal()
        self.ensemble.wait_serves(leader)
        took = time.monotonic() - healed
        self.heal_to_serving.append(took)
        self.note(f"  old leader {leader} serving {took:.2f}s after the heal")

