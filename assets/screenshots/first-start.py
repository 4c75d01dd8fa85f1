#!/usr/bin/env python3
"""How long the real app takes, on a first start with an empty home, to show the demo fleet:
launches target/release/fleetdash under Xvfb (display :96) and polls the screen until the
first row's battery bar is drawn. Needs xvfb and imagemagick (see take.sh).
Usage: python3 assets/screenshots/first-start.py   (from the project root)"""
import re
import subprocess, time, os, sqlite3, tempfile, shutil
home = tempfile.mkdtemp()
for d in ['data','config','cache','run']:
    os.makedirs(f'{home}/{d}')
os.chmod(f'{home}/run', 0o700)
xvfb = subprocess.Popen(['Xvfb', ':96', '-screen', '0', '1100x720x24', '-nolisten', 'tcp'], stderr=subprocess.DEVNULL)
time.sleep(1)
env = dict(os.environ, DISPLAY=':96', XDG_RUNTIME_DIR=f'{home}/run', XDG_DATA_HOME=f'{home}/data', XDG_CONFIG_HOME=f'{home}/config', XDG_CACHE_HOME=f'{home}/cache')
t0 = time.time()
app = subprocess.Popen([os.path.abspath('target/release/fleetdash')], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
db = f'{home}/data/fleetdash/demo.sqlite3'
result = None
while time.time() - t0 < 60:
    try:
        c = sqlite3.connect(f'file:{db}?mode=ro', uri=True, timeout=0.1)
        n = c.execute('SELECT count(DISTINCT vehicle_id) FROM readings WHERE battery_percent IS NOT NULL').fetchone()[0]
        c.close()
        if n >= 5:
            result = time.time() - t0
            break
    except Exception:
        pass
    time.sleep(0.1)
print(f'five demo vehicles with a battery reading in the database {result:.1f} s after launch' if result else 'not within 60 s')
shown = None
while time.time() - t0 < 60:
    out = subprocess.run(['import', '-window', 'root', '-crop', '1x1+200+231', 'txt:-'], env=env, capture_output=True, text=True).stdout
    m = re.search(r'\((\d+),(\d+),(\d+)\)', out.split('\n')[-2] if out.count('\n')>1 else out)
    if m:
        r,g,b = map(int, m.groups())
        if g > 120 and g > r + 40:
            shown = time.time() - t0
            break
    time.sleep(0.3)
subprocess.run(['import', '-window', 'root', os.path.join(home, 'first.png')], env=env)
print(f'the first vehicle row with its battery bar on screen {shown:.1f} s after launch' if shown else 'no bar within 60 s')
app.terminate(); xvfb.terminate(); app.wait(); shutil.rmtree(home)
