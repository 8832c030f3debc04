"""Routing: which agent gets a session, and when queued sessions move.

- `pool`: which agents may take which sessions, with their loads (the eligibility rules);
- `strategy`: how one of the eligible agents is chosen (the ranking);
- `lock`: the routing lock and the generation that lets nobody wait for it;
- `drain`: routing passes under the lock, the queue drain, and the audit of each decision;
- `requeue`: offers that end without an accept, and their sessions back in line.
"""
