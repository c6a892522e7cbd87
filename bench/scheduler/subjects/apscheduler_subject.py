# APScheduler 3.9 (Debian python3-apscheduler, run by /usr/bin/python3):
# BackgroundScheduler, default thread pool, and either the memory job store
# (persists nothing) or a SQLAlchemyJobStore on a SQLite file (Debian
# python3-sqlalchemy), which stores each job and rewrites its next_run_time
# after every firing. Lateness is measured at the start of the job function,
# from the whole second.
# Usage: apscheduler_subject.py <tasks> <schedule> <seconds> [memory|sqlite] [seed|seeded]
# With the sqlite store, `seed` writes the jobs to BENCH_SQLITE_PATH and exits;
# `seeded` starts on that file without adding any (a restart with the jobs
# already stored). Otherwise the jobs are added in this process.
import json
import logging
import math
import os
import shutil
import sys
import tempfile
import threading
import time

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger

tasks, schedule, seconds = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
store = sys.argv[4] if len(sys.argv) > 4 else 'memory'
mode = sys.argv[5] if len(sys.argv) > 5 else 'fresh'
if mode not in ('fresh', 'seed', 'seeded') or (mode != 'fresh' and store != 'sqlite'):
    sys.exit(f'mode {mode!r} needs the sqlite store (seed | seeded)')
lateness = []
lock = threading.Lock()


def job():
    t = time.time()
    with lock:
        lateness.append((t - math.floor(t)) * 1000)


fields = schedule.split()
if len(fields) == 6:
    trigger_args = dict(zip(['second', 'minute', 'hour', 'day', 'month', 'day_of_week'], fields))
else:
    trigger_args = dict(zip(['minute', 'hour', 'day', 'month', 'day_of_week'], fields))
tmpdir = None
if store == 'sqlite':
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore

    if mode == 'fresh':
        tmpdir = tempfile.mkdtemp(prefix='apscheduler-bench-')
        path = os.path.join(tmpdir, 'jobs.db')
    else:
        path = os.environ['BENCH_SQLITE_PATH']
    jobstores = {'default': SQLAlchemyJobStore(url=f'sqlite:///{path}')}
elif store == 'memory':
    jobstores = {}
else:
    sys.exit(f'unknown job store {store!r} (memory | sqlite)')
scheduler = BackgroundScheduler(timezone='UTC', jobstores=jobstores)
# Started paused so the jobs are written to the store before the window opens.
scheduler.start(paused=True)
if mode != 'seeded':
    for i in range(tasks):
        scheduler.add_job(job, CronTrigger(timezone='UTC', **trigger_args), id=f't{i}', misfire_grace_time=60, coalesce=True)
if mode == 'seed':
    scheduler.shutdown(wait=False)
    sys.exit(0)
scheduler.resume()
print('ready', flush=True)
time.sleep(seconds)
# The window is over. The scheduler thread may be half-way through a second's
# jobs (the SQLAlchemy store takes ~3 ms each) and log a traceback for every
# job it then cannot submit to the closed pool: not worth printing.
logging.getLogger('apscheduler').setLevel(logging.CRITICAL)
scheduler.shutdown(wait=False)
if tmpdir:
    shutil.rmtree(tmpdir, ignore_errors=True)
values = sorted(lateness)


def q(p):
    return values[min(len(values) - 1, int(p * len(values)))] if values else None


print(json.dumps({'lateness': {'count': len(values), 'p50': q(0.5), 'p99': q(0.99), 'max': values[-1] if values else None}}), flush=True)
