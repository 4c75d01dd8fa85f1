"""Drives the simulated Smartcar with Smartcar's own Python SDK (smartcar 6.19) and prints
what the SDK made of every answer as one JSON object on stdout. tests/sim_sdk.rs runs it
and checks the values against the simulated fleet.

The SDK reads SMARTCAR_API_ORIGIN, SMARTCAR_AUTH_ORIGIN (the full token URL) and
SMARTCAR_CONNECT_ORIGIN when it is imported; the test sets them to the simulator. The
application comes from SIM_CLIENT_ID, SIM_CLIENT_SECRET, SIM_REDIRECT_URI,
SIM_MANAGEMENT_TOKEN and SIM_WEBHOOK_ID.
"""

import html
import json
import os
import re
import sys
from urllib.parse import parse_qs, urljoin, urlparse

import requests
import smartcar

CLIENT_ID = os.environ["SIM_CLIENT_ID"]
CLIENT_SECRET = os.environ["SIM_CLIENT_SECRET"]
REDIRECT_URI = os.environ["SIM_REDIRECT_URI"]
MANAGEMENT_TOKEN = os.environ["SIM_MANAGEMENT_TOKEN"]
WEBHOOK_ID = os.environ["SIM_WEBHOOK_ID"]
SCOPE = ["read_vehicle_info", "read_battery", "read_charge", "read_location"]


def plain(value):
    """NamedTuples (the SDK's answers and their `meta`) as dicts, recursively."""
    if hasattr(value, "_asdict"):
        return {k: plain(v) for k, v in value._asdict().items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value


def error_of(e):
    """What a SmartcarException says."""
    return {
        "status_code": getattr(e, "status_code", None),
        "type": getattr(e, "type", None),
        "code": getattr(e, "code", None),
        "description": getattr(e, "description", None),
        "resolution": getattr(e, "resolution", None),
        "message": e.message,
    }


def call(fn, *args):
    """{"ok": answer} or {"error": what the SmartcarException says}."""
    try:
        return {"ok": plain(fn(*args))}
    except smartcar.SmartcarException as e:
        return {"error": error_of(e)}


def connect(client):
    """Connect as a user's browser would: open the SDK's authorize URL, tick every vehicle
    on the consent page, press Allow, and read the code off the redirect."""
    url = client.get_auth_url(SCOPE, {"state": "sdk-state", "force_prompt": True})
    browser = requests.Session()
    page = browser.get(url, timeout=30)
    page.raise_for_status()
    form = {
        name: html.unescape(value)
        for name, value in re.findall(
            r'<input type="hidden" name="([^"]+)" value="([^"]*)">', page.text
        )
    }
    vehicles = re.findall(r'name="vehicle" value="([^"]+)"', page.text)
    action = re.search(r'<form method="post" action="([^"]+)"', page.text).group(1)
    fields = list(form.items()) + [("vehicle", v) for v in vehicles]
    fields.append(("decision", "allow"))
    answer = browser.post(
        urljoin(url, action), data=fields, allow_redirects=False, timeout=30
    )
    location = answer.headers.get("Location", "")
    query = parse_qs(urlparse(location).query)
    return {
        "authorize_url": url,
        "consent_status": page.status_code,
        "redirect_status": answer.status_code,
        "redirect_location_base": location.split("?")[0],
        "state": query.get("state", [None])[0],
        "code": query.get("code", [None])[0],
    }


def vehicle_report(vehicle_id, access_token):
    vehicle = smartcar.Vehicle(vehicle_id, access_token)
    imperial = smartcar.Vehicle(vehicle_id, access_token, {"unit_system": "imperial"})
    report = {
        "attributes": call(vehicle.attributes),
        "battery": call(vehicle.battery),
        "charge": call(vehicle.charge),
        "location": call(vehicle.location),
        "odometer": call(vehicle.odometer),
        "imperial_battery": call(imperial.battery),
    }
    try:
        answers = vehicle.batch(["/battery", "/charge", "/location", "/", "/odometer"])
    except smartcar.SmartcarException as e:
        batch = {"error": error_of(e)}
    else:
        # One callable per path: it returns that path's answer or raises its error.
        batch = {
            name: call(getattr(answers, name))
            for name in ("battery", "charge", "location", "attributes", "odometer")
        }
        batch["meta"] = plain(answers.meta)
    report["batch"] = batch
    return report


def main():
    client = smartcar.AuthClient(
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        redirect_uri=REDIRECT_URI,
        mode="simulated",
    )
    out = {"sdk_version": smartcar.__version__, "connect": connect(client)}
    access = client.exchange_code(out["connect"]["code"])
    out["access"] = {
        "token_type": access.token_type,
        "expires_in": access.expires_in,
        "has_access_token": bool(access.access_token),
        "has_refresh_token": bool(access.refresh_token),
    }
    listed = call(smartcar.get_vehicles, access.access_token)
    out["vehicles"] = listed
    out["first_page"] = call(
        smartcar.get_vehicles, access.access_token, {"limit": 1, "offset": 1}
    )
    ids = listed.get("ok", {}).get("vehicles", [])
    out["reports"] = {v: vehicle_report(v, access.access_token) for v in ids}
    if ids:
        first = smartcar.Vehicle(ids[0], access.access_token)
        out["subscribe"] = call(first.subscribe, WEBHOOK_ID)
        out["unsubscribe"] = call(first.unsubscribe, MANAGEMENT_TOKEN, WEBHOOK_ID)
        out["unsubscribe_with_user_token"] = call(
            first.unsubscribe, access.access_token, WEBHOOK_ID
        )
    refreshed = client.exchange_refresh_token(access.refresh_token)
    out["refresh"] = {
        "rotated": refreshed.refresh_token != access.refresh_token,
        "new_access_works": "ok" in call(smartcar.get_vehicles, refreshed.access_token),
        "old_refresh_again": call(client.exchange_refresh_token, access.refresh_token),
    }
    out["bad_code"] = call(client.exchange_code, "no-such-code")
    json.dump(out, sys.stdout, indent=1, sort_keys=True)
    print()


if __name__ == "__main__":
    main()
