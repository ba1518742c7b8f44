"""The seeds' stack as a benchmark peer: a minimal Flask story app plus a copy of the legacy
student API (Flask-HTTPAuth basic auth root:root, JSON file read once at start).

Environment: STORIES_FILE (one story a line), STUDENT_AGE_FILE (the original flat student_age.json,
a JSON object name -> age, served as the original did: jsonify({"student_ages": data})).
Run it with `flask --app flask_app run` (Flask's own threaded server) or `gunicorn flask_app:app`.
"""
import json
import os
import random

from flask import Flask, jsonify, make_response
from flask_httpauth import HTTPBasicAuth

with open(os.environ["STORIES_FILE"], encoding="utf-8") as f:
    STORIES = [line.strip() for line in f if line.strip()]

with open(os.environ["STUDENT_AGE_FILE"], encoding="utf-8") as f:
    STUDENT_AGE = json.load(f)

app = Flask(__name__)
auth = HTTPBasicAuth()


@auth.get_password
def get_password(username):
    return "root" if username == "root" else None


@auth.error_handler
def unauthorized():
    return make_response(jsonify({"error": "Unauthorized access"}), 401)


@app.route("/racontemoiunehistoire")
def story():
    return random.choice(STORIES), 200, {"Content-Type": "text/plain; charset=utf-8"}


@app.route("/supmit/api/v1.0/get_student_ages")
@auth.login_required
def get_student_ages():
    return jsonify({"student_ages": STUDENT_AGE})
