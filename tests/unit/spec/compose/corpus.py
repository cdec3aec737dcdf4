"""Compose projects loaded both by reconcile and by Compose v2 (`config --format json`),
for the parity test: the basic ones (corpus_more.py has the rest, and CASES). Each case:
files (name -> text; the `-f` files are those listed in `compose`, in order), the
variables, the profiles."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Case:
    name: str
    files: dict[str, str]
    compose: tuple[str, ...] = ("compose.yaml",)
    env: dict[str, str] = field(default_factory=dict)
    profiles: tuple[str, ...] = ()
    env_files: tuple[str, ...] = ()  # --env-file
    discover: bool = False  # no -f: the default files (or COMPOSE_FILE) are found
    folder: str = ""  # a sub-folder of the case's folder to run in


BASIC_CASES = [
    Case("minimal", {"compose.yaml": "services:\n  web:\n    image: nginx:1.25\n"}),
    Case("command-forms", {"compose.yaml": """
services:
  a: {image: busybox, command: echo "hello world", entrypoint: /bin/sh -c}
  b: {image: busybox, command: [sleep, "3600"], entrypoint: [/bin/sh]}
"""}),
    Case("environment-map-and-list", {"compose.yaml": """
services:
  a: {image: x, environment: {A: "1", B: 2, C: true, D: ""}}
  b: {image: x, environment: [A=1, "B=two words", C=]}
"""}),
    Case("interpolation-forms", {"compose.yaml": """
services:
  web:
    image: "${IMAGE}:${TAG:-latest}"
    environment:
      PLAIN: $PLAIN
      BRACED: ${PLAIN}
      UNSET_DEFAULT: ${NOPE:-fallback}
      EMPTY_SOFT: ${EMPTY:-soft}
      EMPTY_HARD: ${EMPTY-hard}
      UNSET_HARD: ${NOPE-hard}
      ALT_SET: ${PLAIN:+alt}
      ALT_EMPTY_SOFT: ${EMPTY:+alt}
      ALT_EMPTY_HARD: ${EMPTY+alt}
      ALT_UNSET: ${NOPE+alt}
      ESCAPED: $$HOME and $${PLAIN}
      NESTED: ${NOPE:-${ALSO_NOPE:-${PLAIN}}}
      MIXED: pre-${PLAIN}-post/$PLAIN.x
      LONE: "cost: 5$ or $ 6"
      REQUIRED_OK: ${PLAIN:?must be set}
"""}, env={"IMAGE": "nginx", "PLAIN": "value", "EMPTY": ""}),
    Case("interpolation-casts", {"compose.yaml": """
services:
  web:
    image: x
    read_only: ${RO:-true}
    init: "${INIT-false}"
    cpus: ${CPUS:-0.5}
    pids_limit: ${PIDS:-100}
    healthcheck: {test: [CMD, "true"], retries: "${RETRIES:-3}"}
"""}, env={"PIDS": "64"}),
    Case("dotenv", {"compose.yaml": "services:\n  web:\n    image: ${IMAGE}\n"
                    "    environment: {A: '${A}', B: '${B}', C: '${C}', D: '${D}', E: '${E}',"
                    " F: '${F}', G: '${G}', H: '${H}'}\n",
                    ".env": """# a comment
IMAGE=busybox
export A=exported
B="double ${A} quoted\\nnewline"
C='single ${A} literal'
D=unquoted # trailing comment
E: colon form
F="multi
line"
G=${A}-expanded
  H = spaced
OVERRIDDEN=from-file
"""}, env={"H": "from-env"}),
    Case("project-name-from-file", {"compose.yaml": "name: My_App-1\nservices:\n"
                                    "  web: {image: x}\n"}),
    Case("project-name-interpolated", {"compose.yaml": "name: ${PN}\nservices:\n"
                                       "  web: {image: x}\n"}, env={"PN": "fromenv"}),
    Case("project-name-env", {"compose.yaml": "name: ignored\nservices:\n  web: {image: x}\n"},
         env={"COMPOSE_PROJECT_NAME": "chosen"}),
    Case("version-and-extensions", {"compose.yaml": """
version: "3.8"
x-common: &common
  image: busybox
  restart: always
services:
  web:
    <<: *common
    x-note: dropped
    labels: {kept: "1"}
  worker:
    <<: *common
    restart: "no"
"""}),
    Case("ports-forms", {"compose.yaml": """
services:
  web:
    image: x
    ports: ["80", "8080:80", "127.0.0.1:9090:9090", "53:53/udp", 81,
            {target: 82, published: "8082", protocol: tcp, host_ip: 127.0.0.1}]
"""}),
    Case("volumes-forms", {"compose.yaml": """
services:
  web:
    image: x
    volumes:
      - ./html:/usr/share/nginx/html:ro
      - data:/var/lib/data
      - /anonymous
      - /abs/path:/abs
      - {type: bind, source: ./conf, target: /etc/conf, read_only: true}
      - {type: volume, source: data, target: /other}
volumes:
  data: {}
"""}),
    Case("depends-on-forms", {"compose.yaml": """
services:
  a: {image: x, depends_on: [b, c]}
  b: {image: x, depends_on: {c: {condition: service_healthy}}}
  c: {image: x, healthcheck: {test: "curl -f localhost"}}
"""}),
    Case("healthcheck-forms", {"compose.yaml": """
services:
  a: {image: x, healthcheck: {test: [CMD, curl, -f, localhost], interval: 10s, timeout: 2s}}
  b: {image: x, healthcheck: {test: "true"}}
  c: {image: x, healthcheck: {test: [NONE]}}
  d: {image: x, healthcheck: {disable: true}}
"""}),
    Case("misc-fields", {"compose.yaml": """
services:
  web:
    image: x
    user: "1000:1000"
    working_dir: /app
    hostname: web1
    restart: on-failure
    stop_signal: SIGINT
    cap_add: [NET_ADMIN]
    cap_drop: [ALL]
    dns: 8.8.8.8
    read_only: true
    init: true
    tmpfs: /run
"""}),
    Case("merge-two-files", {"compose.yaml": """
services:
  web:
    image: nginx:1
    command: [a, b]
    environment: {A: "1", B: "2"}
    labels: [one=1]
    ports: ["8080:80"]
    volumes: ["./a:/a", "./b:/b"]
    dns: [1.1.1.1]
    cap_add: [NET_ADMIN]
""", "compose.override.yaml": """
services:
  web:
    image: nginx:2
    command: [c]
    environment: [B=3, C=4]
    labels: {two: "2"}
    ports: ["8080:80", "9090:90"]
    volumes: ["./c:/b"]
    dns: 8.8.8.8
    cap_add: [NET_ADMIN, SYS_TIME]
  extra: {image: y}
"""}, compose=("compose.yaml", "compose.override.yaml")),
    Case("merge-three-files", {"compose.yaml": """
services:
  web: {image: a, environment: {A: "1"}, depends_on: [db]}
  db: {image: postgres}
""", "b.yaml": """
services:
  web: {environment: {A: "2"}, depends_on: {cache: {condition: service_started}}}
  cache: {image: redis}
""", "c.yaml": """
services:
  web: {image: c, entrypoint: [/init]}
"""}, compose=("compose.yaml", "b.yaml", "c.yaml")),
    Case("merge-reset-override", {"compose.yaml": """
services:
  web:
    image: x
    ports: ["80:80"]
    environment: {A: "1", B: "2"}
    command: [old]
    labels: {keep: "1"}
""", "over.yaml": """
services:
  web:
    ports: !reset []
    environment: !override {C: "3"}
    command: !reset null
    labels: {more: "2"}
"""}, compose=("compose.yaml", "over.yaml")),
    Case("merge-healthcheck-test-replaced", {"compose.yaml": """
services:
  web: {image: x, healthcheck: {test: [CMD, a, b], interval: 5s}}
""", "o.yaml": """
services:
  web: {healthcheck: {test: [CMD, c], retries: 2}}
"""}, compose=("compose.yaml", "o.yaml")),
    Case("merge-subdir-override-paths", {"compose.yaml": """
services:
  web: {image: x, volumes: ["./data:/data"]}
""", "sub/over.yaml": """
services:
  web: {volumes: ["./more:/more"]}
"""}, compose=("compose.yaml", "sub/over.yaml")),
    Case("extends-same-file", {"compose.yaml": """
services:
  base: {image: busybox, environment: {A: "1"}, command: [sleep, "1"], ports: ["80:80"]}
  web:
    extends: base
    environment: {B: "2"}
    command: [sleep, "2"]
    ports: ["81:81"]
"""}),
    Case("extends-chain", {"compose.yaml": """
services:
  a: {image: a, labels: {a: "1"}}
  b: {extends: {service: a}, labels: {b: "1"}}
  c: {extends: b, labels: {c: "1"}, image: c}
"""}),
    Case("extends-other-file", {"compose.yaml": """
services:
  web:
    extends: {file: common/base.yaml, service: app}
    environment: {LOCAL: "1"}
""", "common/base.yaml": """
services:
  app:
    image: app:1
    volumes: ["./data:/data"]
    env_file: ./app.env
    environment: {FROM_BASE: "1"}
""", "common/app.env": "X=1\n"}),
    Case("extends-other-file-chained", {"compose.yaml": """
services:
  web: {extends: {file: lib/mid.yaml, service: mid}}
""", "lib/mid.yaml": """
services:
  mid: {extends: {file: deep/base.yaml, service: base}, labels: {mid: "1"}}
""", "lib/deep/base.yaml": """
services:
  base: {image: base, labels: {base: "1"}, volumes: ["./v:/v"]}
"""}),
    Case("extends-with-reset", {"compose.yaml": """
services:
  base: {image: x, ports: ["80:80"], environment: {A: "1"}}
  web:
    extends: base
    ports: !reset []
"""}),
    Case("include-short", {"compose.yaml": """
include: [lib/compose.yaml]
services:
  web: {image: web, depends_on: [db]}
""", "lib/compose.yaml": """
services:
  db: {image: postgres, volumes: ["./pg:/var/lib/postgresql/data"], environment: {V: "${LIBVAR}"}}
""", "lib/.env": "LIBVAR=from-lib-dotenv\n"}),
    Case("include-long", {"compose.yaml": """
include:
  - path: [inc/a.yaml, inc/a.override.yaml]
    project_directory: inc
    env_file: inc/custom.env
services:
  web: {image: web}
""", "inc/a.yaml": "services:\n  a: {image: '${AIMG}', volumes: ['./x:/x']}\n",
        "inc/a.override.yaml": "services:\n  a: {environment: {O: '1'}}\n",
        "inc/custom.env": "AIMG=from-custom\n"}),
    Case("include-env-wins", {"compose.yaml": "include: [lib/c.yaml]\n",
                              "lib/c.yaml": "services:\n  s: {image: '${IMG}'}\n",
                              "lib/.env": "IMG=from-file\n"}, env={"IMG": "from-env"}),
    Case("include-nested", {"compose.yaml": "include: [a/c.yaml]\nservices:\n  top: {image: t}\n",
                            "a/c.yaml": "include: [b/c.yaml]\nservices:\n  mid: {image: m}\n",
                            "a/b/c.yaml": "services:\n  low: {image: l, build: .}\n"}),
    Case("include-identical-twice", {"compose.yaml": "include: [a.yaml, b.yaml]\n",
                                     "a.yaml": "services:\n  s: {image: x}\n",
                                     "b.yaml": "services:\n  s: {image: x}\n"}),
    Case("profiles-default", {"compose.yaml": """
services:
  web: {image: x}
  debug: {image: y, profiles: [debug]}
  tools: {image: z, profiles: [tools, debug]}
"""}),
    Case("profiles-selected", {"compose.yaml": """
services:
  web: {image: x}
  debug: {image: y, profiles: [debug]}
  tools: {image: z, profiles: [tools]}
"""}, profiles=("debug",)),
    Case("profiles-env", {"compose.yaml": """
services:
  web: {image: x}
  debug: {image: y, profiles: [debug]}
  tools: {image: z, profiles: [tools]}
"""}, env={"COMPOSE_PROFILES": "tools, debug"}),
    Case("profiles-star", {"compose.yaml": """
services:
  web: {image: x, profiles: [a]}
  other: {image: y, profiles: [b]}
"""}, profiles=("*",)),
    Case("profiles-optional-dependency", {"compose.yaml": """
services:
  web: {image: x, depends_on: {db: {condition: service_started, required: false}}}
  db: {image: y, profiles: [db]}
"""}),
    Case("resources-top-level", {"compose.yaml": """
services:
  web:
    image: x
    networks: [front, back]
    secrets: [token]
    configs: [conf]
    volumes: ["data:/data", "ext:/ext"]
networks: {front: {}, back: {internal: true}}
volumes: {data: {}, ext: {external: true}}
secrets: {token: {file: ./token.txt}}
configs: {conf: {file: ./conf.ini}}
""", "token.txt": "t\n", "conf.ini": "c\n"}),
    Case("build-forms", {"compose.yaml": """
services:
  a: {build: ./app}
  b: {build: {context: ./b, dockerfile: Dockerfile.dev, args: {V: "1"}}, image: b:dev}
"""}),
    Case("env-file-forms", {"compose.yaml": """
services:
  a: {image: x, env_file: a.env}
  b: {image: x, env_file: [a.env, {path: b.env, required: false}]}
""", "a.env": "A=1\n"}),
    Case("anchors-and-merge-lists", {"compose.yaml": """
x-env: &env {A: "1", B: "2"}
x-base: &base {image: x, restart: always}
x-more: &more {stop_signal: SIGTERM}
services:
  a:
    <<: [*base, *more]
    environment: *env
  b:
    <<: *base
    restart: unless-stopped
    environment:
      <<: *env
      B: "3"
"""}),
    Case("bare-environment-names", {"compose.yaml": """
services:
  web: {image: x, environment: [SET_ONE, UNSET_ONE, "X=1"]}
"""}, env={"SET_ONE": "from-env"}),
    Case("interpolated-keys-untouched", {"compose.yaml": """
services:
  web: {image: x, labels: {"$$literal": "${V}", "plain": "$$V"}}
"""}, env={"V": "v"}),
    Case("dns-and-tmpfs-merge", {"compose.yaml": """
services:
  web: {image: x, dns: [1.1.1.1], tmpfs: [/run], sysctls: {net.core.somaxconn: 1024}}
""", "o.yaml": """
services:
  web: {dns: [1.1.1.1, 9.9.9.9], tmpfs: /tmp, sysctls: [net.ipv4.tcp_syncookies=0]}
"""}, compose=("compose.yaml", "o.yaml")),
]
