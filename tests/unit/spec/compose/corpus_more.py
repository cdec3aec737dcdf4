"""More of the parity corpus: merges across forms, env files and file discovery, extends
and include combinations, interpolation and .env edge cases; and the inputs Compose
refuses (ERROR_CASES)."""

from __future__ import annotations

from tests.unit.spec.compose.corpus import BASIC_CASES, Case

CASES = list(BASIC_CASES)
CASES += [
    Case("merge-ports-across-forms", {"compose.yaml": """
services:
  web: {image: x, ports: ["8080:80", "127.0.0.1:53:53/udp"], expose: ["9000", 9001]}
""", "o.yaml": """
services:
  web:
    ports: [{target: 80, published: "8080"}, {target: 53, published: "53", protocol: udp,
            host_ip: 127.0.0.1}, "7000:70"]
    expose: [9000, "9002"]
"""}, compose=("compose.yaml", "o.yaml")),
    Case("merge-volumes-and-secrets-by-target", {"compose.yaml": """
services:
  web:
    image: x
    volumes: ["./a:/data", {type: volume, source: v, target: /v}]
    secrets: [s1, {source: s2, target: /run/secrets/two}]
volumes: {v: {}, w: {}}
secrets: {s1: {file: ./s1}, s2: {file: ./s2}, s3: {file: ./s3}}
""", "o.yaml": """
services:
  web:
    volumes: [{type: bind, source: ./b, target: /data}, {type: volume, source: w, target: /v},
              "x:/v"]
    secrets: [{source: s3, target: s1}, s2]
""", "s1": "1", "s2": "2", "s3": "3"}, compose=("compose.yaml", "o.yaml")),
    Case("merge-networks-and-depends-forms", {"compose.yaml": """
services:
  web: {image: x, networks: [front], depends_on: [db]}
  db: {image: y, networks: {back: {aliases: [database]}}}
  cache: {image: z}
networks: {front: {}, back: {}}
""", "o.yaml": """
services:
  web: {networks: {back: {}}, depends_on: {cache: {condition: service_started}}}
  db: {networks: [front]}
"""}, compose=("compose.yaml", "o.yaml")),
    Case("merge-build-string-and-map", {"compose.yaml": """
services:
  app: {build: ./app, image: app}
""", "o.yaml": """
services:
  app: {build: {dockerfile: Dockerfile.prod, args: [A=1]}}
"""}, compose=("compose.yaml", "o.yaml")),
    Case("merge-environment-null-and-override-list", {"compose.yaml": """
services:
  web: {image: x, environment: {A: "1", B: "2"}, cap_add: [A, B], dns: [1.1.1.1]}
""", "o.yaml": """
services:
  web: {environment: {A: null}, cap_add: !override [C], dns: !reset []}
"""}, compose=("compose.yaml", "o.yaml")),
    Case("merge-scalars-and-nested-maps", {"compose.yaml": """
services:
  web:
    image: x
    restart: always
    healthcheck: {test: [CMD, a], interval: 5s, timeout: 1s}
    deploy: {resources: {limits: {cpus: "0.5", memory: 64M}}}
""", "o.yaml": """
services:
  web:
    restart: unless-stopped
    healthcheck: {interval: 9s}
    deploy: {resources: {limits: {memory: 128M}}}
"""}, compose=("compose.yaml", "o.yaml")),
    Case("env-file-option", {"compose.yaml": "services:\n  web: {image: '${IMG}:${TAG}'}\n",
                             "one.env": "IMG=first\nTAG=one\n", "two.env": "TAG=two\n",
                             ".env": "IMG=ignored\n"}, env_files=("one.env", "two.env")),
    Case("discover-default-files", {"compose.yaml": "services:\n  web: {image: a}\n",
                                    "compose.override.yaml": "services:\n  web: {image: b}\n"},
         compose=(), discover=True),
    Case("discover-docker-compose-yml", {"docker-compose.yml": "services:\n  web: {image: a}\n",
                                         "docker-compose.override.yml":
                                         "services:\n  web: {user: nobody}\n"},
         compose=(), discover=True),
    Case("discover-in-parent", {"compose.yaml": "services:\n  web: {image: p}\n",
                                "sub/readme.txt": "x"}, compose=(), discover=True,
         folder="sub"),
    Case("discover-compose-file-variable", {"a.yaml": "services:\n  web: {image: a}\n",
                                            "b.yaml": "services:\n  web: {image: b}\n"},
         compose=(), discover=True, env={"COMPOSE_FILE": "a.yaml:b.yaml"}),
    Case("dotenv-references-process-env", {"compose.yaml": "services:\n  web: {image: '${IMG}'}\n",
                                           ".env": "IMG=${REGISTRY}/app\n"},
         env={"REGISTRY": "reg.local"}),
    Case("dotenv-sets-project-name-and-profiles", {"compose.yaml": """
services:
  web: {image: x}
  dbg: {image: y, profiles: [debug]}
""", ".env": "COMPOSE_PROJECT_NAME=fromdotenv\nCOMPOSE_PROFILES=debug\n"}),
    Case("extends-base-depends-and-ports", {"compose.yaml": """
services:
  db: {image: db}
  base: {image: x, depends_on: [db], ports: ["80:80"], volumes: ["./a:/a"]}
  web: {extends: base, ports: ["80:80", "81:81"], volumes: ["./b:/a"]}
"""}),
    Case("extends-then-override-file", {"compose.yaml": """
services:
  base: {image: x, environment: {A: "1"}}
  web: {extends: base, environment: {B: "1"}}
""", "o.yaml": """
services:
  web: {environment: {C: "1"}, image: y}
"""}, compose=("compose.yaml", "o.yaml")),
    Case("interpolation-in-lists-and-nested", {"compose.yaml": """
services:
  web:
    image: x
    command: ["${CMD:-run}", "--port=${PORT:-80}"]
    ports: ["${PORT:-80}:80"]
    healthcheck: {test: [CMD-SHELL, "curl -f http://localhost:${PORT:-80}/ || exit 1"]}
    labels: {url: "http://${HOST-localhost}:${PORT}/"}
"""}, env={"PORT": "8080"}),
    Case("project-name-weird-folder", {"compose.yaml": "services:\n  web: {image: x}\n"},
         folder="_My Weird.Folder", discover=True, compose=()),
]

CASES += [
    Case("extends-with-override-tag", {"compose.yaml": """
services:
  base: {image: x, environment: {A: "1"}, command: [a, b], volumes: ["./a:/a"]}
  web:
    extends: base
    environment: !override {B: "2"}
    volumes: !override ["./b:/b"]
"""}),
    Case("include-then-override-file", {"compose.yaml": "include: [lib/c.yaml]\n",
                                        "lib/c.yaml": "services:\n  db: {image: pg:15, "
                                        "ports: ['5432:5432']}\n",
                                        "o.yaml": "services:\n  db: {image: pg:16, "
                                        "ports: ['5433:5432']}\n"},
         compose=("compose.yaml", "o.yaml")),
    Case("include-path-interpolated", {"compose.yaml": "include: ['${LIB:-lib}/c.yaml']\n",
                                       "lib/c.yaml": "services:\n  s: {image: s}\n"}),
    Case("profiles-and-extends", {"compose.yaml": """
services:
  base: {image: x, profiles: [base]}
  web: {extends: base, profiles: !override [web]}
  plain: {extends: base, profiles: !reset []}
"""}, profiles=("web",)),
    Case("named-volume-long-and-tmpfs", {"compose.yaml": """
services:
  web:
    image: x
    volumes:
      - {type: tmpfs, target: /scratch}
      - {type: volume, source: cache, target: /cache, read_only: true}
      - cache:/ro-cache:ro
volumes: {cache: {}}
"""}),
]

CASES += [
    Case("reset-and-override-whole-entries", {"compose.yaml": """
services:
  web: {image: x, ports: ["80:80"], environment: {A: "1"}}
  debug: {image: y}
  db: {image: pg, volumes: ["data:/data"], environment: {P: "1"}}
volumes: {data: {}}
""", "o.yaml": """
services:
  debug: !reset {}
  db: !override {image: pg2}
  web: {environment: {B: "2"}}
volumes: !reset {}
"""}, compose=("compose.yaml", "o.yaml")),
]

CASES.append(Case("local-bind-volume-device", {"compose.yaml": """
services:
  web: {image: x, volumes: ["data:/data", "other:/other"]}
volumes:
  data: {driver: local, driver_opts: {type: none, o: bind, device: ./data}}
  other: {driver_opts: {o: bind, device: ./kept}}
"""}))

# Templates checked one by one against Compose's own substitution (labels are strings).
_TEMPLATES = ["${A:-}", "${N:+}", "$A$B", "${A}${B}", "$_x", "$9", "${N:-$B}", "${N:-$$}",
              "${N:-}}", "${N:-{}}", "$${N:-x}", "${N:-a b c}", "${N-${M-${Q-d}}}", "{$A}",
              "$A-x", "$A_B", "${N:-x:y}", "${N-:}", "${A?:msg}", "${N-:-x}", "${A:-x-y}",
              "${A+x}${B:-y}", "${E:-x}${E-y}", "a$", "$$$A", "$$$$A", "${A}}", "${N:-a}b}",
              "$A}", "${N:-${A}x}y", "${A:+${B:+c}}", "${N:-${E:-${A}}}", "x${A}x${N-}x", "$-",
              "${A-}", "$ A", "${N:-'q'}", '${N:-"q"}', "${N-$}", "${N:-a$b}", "${N:-$$b}",
              "${E+set}", "${E:+set}", "${N+set}", "é$A", "${A:-é}"]
CASES.append(Case("interpolation-edge-cases", {"compose.yaml": "services:\n  w:\n    image: x\n"
                  "    labels:\n" + "".join(f"      t{i}: '{t.replace(chr(39), chr(39) * 2)}'\n"
                                             for i, t in enumerate(_TEMPLATES))},
                  env={"A": "a", "E": "", "B": "b", "A_B": "ab"}))

# .env lines checked one by one against Compose's own parser; here one key each.
_DOTENV_LINES = ['K=a b ', 'K="a\\tb"', "K='a\\tb'", "K=a#b", "K=a #b", 'K="a" #c', "K=\\$x",
                 'K="\\$PE"', "K=$PE", "K='$PE'", 'K="${PE}"', "export K=1", "export   K = 2 ",
                 "K:3", "K : 4", "  K=5", "K=", 'K=""', "K=''", 'K="multi\nline"',
                 "K='multi\nline'", 'K="a\\"b"', "K='a\\'b'", "K=a\\nb", 'K="a\\nb"',
                 'K="\\0101"', "K=${UNSET:-dflt}", 'K="x${UNSET-y}z"', "K=é", "K=a=b", "K==",
                 "K=\t tab", "\tK=1", 'K="a\\\\b"', 'K="\\q"', 'K="a\\$b"', "K=$$PE",
                 'K="$$PE"', "K='$$PE'", "K=a\r", 'K="a"\r']
CASES.append(Case("dotenv-edge-cases", {
    "compose.yaml": "services:\n  w:\n    image: x\n    labels:\n" + "".join(
        f"      k{i}: '${{K{i}}}'\n" for i in range(len(_DOTENV_LINES))),
    ".env": "".join(line.replace("K", f"K{i}", 1) + "\n"
                    for i, line in enumerate(_DOTENV_LINES))}, env={"PE": "procenv"}))

# Input Compose refuses: reconcile must refuse it too (an error problem), located.
ERROR_CASES = [
    Case("required-variable", {"compose.yaml":
                               "services:\n  web: {image: '${IMG:?set IMG first}'}\n"}),
    Case("required-variable-unset-only", {"compose.yaml":
                                          "services:\n  web: {image: '${IMG?needed}'}\n"}),
    Case("invalid-template", {"compose.yaml": "services:\n  web: {image: 'x${'}\n"}),
    Case("invalid-template-name", {"compose.yaml": "services:\n  web: {image: '${1A}'}\n"}),
    Case("extends-cycle", {"compose.yaml": """
services:
  a: {image: x, extends: b}
  b: {extends: c}
  c: {extends: a}
"""}),
    Case("extends-unknown", {"compose.yaml": "services:\n  a: {image: x, extends: nope}\n"}),
    Case("include-cycle", {"compose.yaml": "include: [a.yaml]\nservices:\n  m: {image: m}\n",
                           "a.yaml": "include: [compose.yaml]\nservices:\n  s: {image: s}\n"}),
    Case("include-conflict", {"compose.yaml": "include: [a.yaml]\nservices:\n  s: {image: m}\n",
                              "a.yaml": "services:\n  s: {image: other}\n"}),
    Case("include-missing", {"compose.yaml": "include: [nope.yaml]\nservices:\n  s: {image: m}\n"}),
    Case("merge-incompatible", {"compose.yaml": "services:\n  web: {image: x, ports: ['80']}\n",
                                "o.yaml": "services:\n  web: {ports: {a: 1}}\n"},
         compose=("compose.yaml", "o.yaml")),
    Case("invalid-service-name", {"compose.yaml": "services:\n  'web app': {image: x}\n"}),
    Case("invalid-project-name-env", {"compose.yaml": "services:\n  web: {image: x}\n"},
         env={"COMPOSE_PROJECT_NAME": "Bad!"}),
    Case("profile-dependency-disabled", {"compose.yaml": """
services:
  web: {image: x, depends_on: [db]}
  db: {image: y, profiles: [db]}
"""}),
    Case("duplicate-key", {"compose.yaml": "services:\n  web: {image: x}\n  web: {image: y}\n"}),
    Case("bad-cast", {"compose.yaml": "services:\n  web: {image: x, read_only: '${RO:-maybe}'}\n"}),
    Case("dotenv-unterminated", {"compose.yaml": "services:\n  web: {image: x}\n",
                                 ".env": "A=\"open\n"}),
]
