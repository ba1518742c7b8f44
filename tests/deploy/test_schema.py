"""values.schema.json: bad values are rejected by helm itself, with a message naming the key."""
import json

import pytest
import yaml

from conftest import CHART, helm_template

BAD_VALUES = {
    "negative replicas": ("back: {replicaCount: -1}", "at '/back/replicaCount': minimum: got -1, want 0"),
    "replicas as a string": ("front: {replicaCount: two}", "at '/front/replicaCount': got string, want integer"),
    "unknown service type": ("front: {service: {type: Ingress}}",
                             "at '/front/service/type': value must be one of 'ClusterIP', 'NodePort', 'LoadBalancer'"),
    "port out of range": ("back: {service: {port: 70000}}", "at '/back/service/port': maximum: got 70,000, want 65,535"),
    "unknown pull policy": ("back: {image: {pullPolicy: Sometimes}}",
                            "at '/back/image/pullPolicy': value must be one of 'Always', 'IfNotPresent', 'Never'"),
    "bad digest": ("back: {image: {digest: latest}}", "at '/back/image/digest'"),
    "enabled as a string": ("ingress: {enabled: \"yes\"}", "at '/ingress/enabled': got string, want boolean"),
    "misspelt top-level key": ("bakc: {replicaCount: 1}", "additional properties 'bakc' not allowed"),
    "env name the back does not read": ("back: {env: {PORTT: \"5000\"}}",
                                        "at '/back/env': additional properties 'PORTT' not allowed"),
    "unknown LOG_FORMAT": ("back: {env: {LOG_FORMAT: xml}}", "at '/back/env/LOG_FORMAT': value must be one of"),
    "bad memory quantity": ("back: {resources: {limits: {memory: lots}}}", "at '/back/resources/limits/memory'"),
    "negative preStop sleep": ("front: {preStopSleepSeconds: -5}", "at '/front/preStopSleepSeconds': minimum"),
    "bad traffic policy": ("front: {service: {externalTrafficPolicy: Nearest}}",
                           "at '/front/service/externalTrafficPolicy': value must be one of"),
    "prefix without slash": ("students: {apiPrefix: api}", "at '/students/apiPrefix'"),
    "backUrl with a path": ("front: {backUrl: \"http://back:5000/api\"}", "at '/front/backUrl'"),
    "clusterDomain with a scheme": ("clusterDomain: \"https://cluster.local\"", "at '/clusterDomain'"),
    "extraEnv not a list": ("back: {extraEnv: {A: b}}", "at '/back/extraEnv': got object, want array"),
    "negative knative min-scale": ("knative: {enabled: true, minScale: -1}", "at '/knative/minScale': minimum"),
    "knative delay without unit": ("knative: {enabled: true, scaleDownDelay: \"30\"}", "at '/knative/scaleDownDelay'"),
    "misspelt knative key": ("knative: {enabled: true, minScal: 1}", "additional properties 'minScal' not allowed"),
    "parentRef without a name": ("httpRoute: {enabled: true, parentRefs: [{namespace: gw}]}",
                                 "at '/httpRoute/parentRefs/0': missing property 'name'"),
    "hostname with a scheme": ("httpRoute: {enabled: true, hostnames: [\"https://a.example.com\"]}",
                               "at '/httpRoute/hostnames/0'"),
    # students.database: one store, one database, a URL for a CA, a sensible Cluster.
    "persistence and CloudNativePG": (
        "students: {persistence: {enabled: true}, database: {cloudnativepg: {enabled: true}}}",
        "at '/students/persistence/enabled': value must be false"),
    "persistence and an external database": (
        "students: {persistence: {enabled: true}, database: {existingSecret: db}}",
        "at '/students/persistence/enabled': value must be false"),
    "both databases": ("students: {database: {existingSecret: db, cloudnativepg: {enabled: true}}}",
                       "at '/students/database/existingSecret': maxLength"),
    "a CA for no database": ("students: {database: {ca: {secretName: db-ca}}}",
                             "at '/students/database/existingSecret': minLength: got 0, want 1"),
    "an external database without its URL's key": ("students: {database: {existingSecret: db, urlKey: \"\"}}",
                                                    "at '/students/database/urlKey'"),
    "a CA from two places": ("students: {database: {existingSecret: db, ca: {secretName: a, configMapName: b}}}",
                             "at '/students'"),
    "no instance": ("students: {database: {cloudnativepg: {enabled: true, instances: 0}}}",
                    "at '/students/database/cloudnativepg/instances': minimum: got 0, want 1"),
    "instances as a string": ("students: {database: {cloudnativepg: {enabled: true, instances: three}}}",
                              "at '/students/database/cloudnativepg/instances': got string, want integer"),
    "a fractional instance count": ("students: {database: {cloudnativepg: {enabled: true, instances: 2.5}}}",
                                    "at '/students/database/cloudnativepg/instances'"),
    "storage without a size": ("students: {database: {cloudnativepg: {enabled: true, storage: {size: \"\"}}}}",
                               "at '/students/database/cloudnativepg/storage/size'"),
    "misspelt database key": ("students: {database: {existingSecrets: db}}",
                              "additional properties 'existingSecrets' not allowed"),
    # The database on day 2 (issue 27).
    "unknown pool mode": ("students: {database: {cloudnativepg: {enabled: true, pooler: {enabled: true, poolMode: statement}}}}",
                          "at '/students/database/cloudnativepg/pooler/poolMode': value must be one of 'session', 'transaction'"),
    "unknown data durability": (
        ("students: {database: {cloudnativepg: {enabled: true, synchronous: {enabled: true, method: any, number: 1, "
        "dataDurability: strict}}}}"),
        "at '/students/database/cloudnativepg/synchronous/dataDurability': value must be one of 'required', 'preferred'"),
    "no synchronous standby": (
        ("students: {database: {cloudnativepg: {enabled: true, synchronous: {enabled: true, method: any, number: 0, "
        "dataDurability: required}}}}"),
        "at '/students/database/cloudnativepg/synchronous/number': minimum: got 0, want 1"),
    "a five-field schedule": (("students: {database: {cloudnativepg: {enabled: true, backups: {enabled: true, "
                              "method: volumeSnapshot, schedule: \"0 3 * * *\"}}}}"),
                              "at '/students/database/cloudnativepg/backups/schedule'"),
    "plugin backups without a destination": (
        "students: {database: {cloudnativepg: {enabled: true, backups: {enabled: true, method: plugin}}}}",
        "at '/students/database/cloudnativepg/backups/destinationPath': minLength: got 0, want 1"),
    "a destination without keys": (
        ("students: {database: {cloudnativepg: {enabled: true, backups: {enabled: true, method: plugin, "
        "destinationPath: \"s3://b/p\"}}}}"),
        "at '/students/database/cloudnativepg/backups/s3/secretName': minLength: got 0, want 1"),
    "a destination that is not a URL": (
        ("students: {database: {cloudnativepg: {enabled: true, backups: {enabled: true, method: plugin, "
        "destinationPath: bucket, s3: {secretName: s3}}}}}"),
        "at '/students/database/cloudnativepg/backups/destinationPath'"),
    "unknown backup method": (("students: {database: {cloudnativepg: {enabled: true, backups: {enabled: true, "
                              "method: barmanObjectStore}}}}"),
                              "at '/students/database/cloudnativepg/backups/method': value must be one of 'plugin', 'volumeSnapshot'"),
    "a retention without unit": (("students: {database: {cloudnativepg: {backups: {enabled: false, method: plugin, "
                                 "retentionPolicy: \"30\"}}}}"),
                                 "at '/students/database/cloudnativepg/backups/retentionPolicy'"),
    "an image with a bad digest": ("students: {database: {cloudnativepg: {imageName: \"ghcr.io/cloudnative-pg/postgresql:18@sha256:abc\"}}}",
                                   "at '/students/database/cloudnativepg/imageName'"),
    "a recovery time without a zone": (("students: {database: {cloudnativepg: {recovery: {enabled: true, "
                                       "targetTime: \"2026-12-07 14:00\"}}}}"),
                                       "at '/students/database/cloudnativepg/recovery/targetTime'"),
    "unknown anti-affinity type": ("students: {database: {cloudnativepg: {affinity: {podAntiAffinityType: always}}}}",
                                   "at '/students/database/cloudnativepg/affinity/podAntiAffinityType'"),
    "an error ratio above 1": ("students: {database: {cloudnativepg: {prometheusRule: {errorRatio: 5}}}}",
                               "at '/students/database/cloudnativepg/prometheusRule/errorRatio': maximum"),
    "misspelt pooler key": ("students: {database: {cloudnativepg: {pooler: {enabled: true, poolMode: session, instance: 2}}}}",
                            "additional properties 'instance' not allowed"),
}


@pytest.mark.parametrize("name", sorted(BAD_VALUES))
def test_bad_values_are_rejected_with_a_readable_message(name, tmp_path):
    text, message = BAD_VALUES[name]
    values = tmp_path / "bad.yaml"
    values.write_text(text + "\n")
    proc = helm_template(values, check=False)
    assert proc.returncode != 0, f"{name}: accepted"
    assert "values don't meet the specifications of the schema" in proc.stderr
    assert message in proc.stderr, proc.stderr


def test_schema_is_valid_json_schema_and_accepts_the_defaults():
    import jsonschema
    schema = json.loads((CHART / "values.schema.json").read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    jsonschema.validate(yaml.safe_load((CHART / "values.yaml").read_text()), schema)
