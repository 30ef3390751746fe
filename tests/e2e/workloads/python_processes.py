# Python's process machinery in one script: threads, subprocess, signals and select. Prints
# lines that must be the same natively and in the sandbox.
import os
import select
import signal
import subprocess
import threading

results = []
lock = threading.Lock()


def square(i):
    with lock:
        results.append(i * i)


threads = [threading.Thread(target=square, args=(i,)) for i in range(8)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print("threads", sorted(results))

out = subprocess.run(["sh", "-c", "echo from child; exit 3"], capture_output=True, text=True)
print("subprocess", out.stdout.strip(), out.returncode)
pipeline = subprocess.run("printf 'b\\na\\nc\\n' | sort | head -2", shell=True,
                          capture_output=True, text=True)
print("pipeline", pipeline.stdout.split())

got = []
signal.signal(signal.SIGUSR1, lambda signo, frame: got.append(signo))
os.kill(os.getpid(), signal.SIGUSR1)
print("signal", got == [signal.SIGUSR1])

signal.signal(signal.SIGALRM, lambda signo, frame: got.append("alarm"))
signal.setitimer(signal.ITIMER_REAL, 0.05)
signal.pause()
print("alarm", got[-1])

r, w = os.pipe()
print("select empty", select.select([r], [], [], 0.05)[0])
os.write(w, b"x")
print("select ready", select.select([r], [], [], 5)[0] == [r])
poller = select.poll()
poller.register(r, select.POLLIN)
print("poll", poller.poll(5000) == [(r, select.POLLIN)])

child = subprocess.Popen(["sleep", "30"])
child.send_signal(signal.SIGTERM)
print("killed child", child.wait())

pid = os.fork()
if pid == 0:
    os._exit(7)
_, status = os.waitpid(pid, 0)
print("fork", os.WEXITSTATUS(status))

# multiprocessing: a pool of forked workers, a Queue between processes (a pipe, a feeder
# thread and a POSIX semaphore in /dev/shm mapped MAP_SHARED), and shared memory.
import multiprocessing as mp
from multiprocessing import shared_memory


def double(x):
    return 2 * x


def poke(name):
    segment = shared_memory.SharedMemory(name=name)
    segment.buf[0] = 42
    segment.close()


if __name__ == "__main__":
    with mp.get_context("fork").Pool(2) as pool:
        print("pool", pool.map(double, range(6)))
    q = mp.Queue()
    worker = mp.Process(target=q.put, args=("via-queue",))
    worker.start()
    print("queue", q.get(timeout=30))
    worker.join()
    print("exitcode", worker.exitcode)
    shm = shared_memory.SharedMemory(create=True, size=16)
    try:
        child = mp.Process(target=poke, args=(shm.name,))
        child.start()
        child.join()
        print("shared memory", shm.buf[0])
    finally:
        shm.close()
        shm.unlink()
