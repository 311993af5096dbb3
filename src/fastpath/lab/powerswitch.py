"""The lab's network power switch: labgrid's ``simplerest`` protocol over lab VMs.

    python -m fastpath.lab.powerswitch --port 8077 HOME0 HOME1 ...

``GET /power/<i>/0`` stops the QEMU of lab VM i (lab home HOME<i>), ``GET /power/<i>/1``
starts it again with the kernel, port and keys of its last ``up`` (and returns at once:
whoever cycles it waits for SSH), ``GET /power/<i>`` answers ``1`` or ``0``. The labgrid
exporter exports each VM's port as a ``NetworkPowerPort`` (model simplerest) pointing here,
so ``labgrid-client -p PLACE power cycle`` power-cycles a lab VM as it would a board.
Serves 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import http.server
import logging
import threading

from fastpath.lab import vm

log = logging.getLogger("fastpath.lab.power")


def make_handler(homes: list[str]):
    starting: dict[int, threading.Thread] = {}
    lock = threading.Lock()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            parts = self.path.strip("/").split("/")
            if len(parts) not in (2, 3) or parts[0] != "power" or not parts[1].isdigit() \
                    or int(parts[1]) >= len(homes):
                return self._answer(404, "no such power port\n")
            index, value = int(parts[1]), parts[2] if len(parts) == 3 else ""
            home = homes[index]
            with lock:
                if value == "":
                    return self._answer(200, "1" if vm.is_running(home) else "0")
                if value == "0":
                    vm.down(home)
                    return self._answer(200, "0")
                if value == "1":
                    busy = starting.get(index)
                    if not (busy and busy.is_alive()) and not vm.is_running(home):
                        t = threading.Thread(target=_start, args=(home,), daemon=True)
                        starting[index] = t
                        t.start()
                    return self._answer(200, "1")
            return self._answer(400, "value must be 0 or 1\n")

        def _answer(self, status: int, text: str) -> None:
            body = text.encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, fmt, *args):
            log.info("%s", fmt % args)

    return Handler


def _start(home: str) -> None:
    try:
        vm.power_cycle(home)
    except Exception as err:          # the caller sees it as SSH not answering
        log.error("power on %s failed: %s", home, err)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("homes", nargs="+", help="lab homes, one per power port (index 0, 1, ...)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), make_handler(args.homes))
    print(f"power switch on 127.0.0.1:{args.port} for {len(args.homes)} lab VMs", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
