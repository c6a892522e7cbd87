# APScheduler 3.9 (Debian python3-apscheduler, run by /usr/bin/python3):
# BackgroundScheduler, memory job store, default thread pool. Lateness is
# measured at the start of the job function, from the whole second.
# Usage: apscheduler_subject.py <tasks> <schedule> <seconds>
import json
import math
import sys
import threading
import time

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger

tasks, schedule, seconds = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
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
scheduler = BackgroundScheduler(timezone='UTC')
for i in range(tasks):
    scheduler.add_job(job, CronTrigger(timezone='UTC', **trigger_args), id=f't{i}', misfire_grace_time=60, coalesce=True)
scheduler.start()
print('ready', flush=True)
time.sleep(seconds)
scheduler.shutdown(wait=False)
values = sorted(lateness)


def q(p):
    return values[min(len(values) - 1, int(p * len(values)))] if values else None


print(json.dumps({'lateness': {'count': len(values), 'p50': q(0.5), 'p99': q(0.99), 'max': values[-1] if values else None}}), flush=True)
