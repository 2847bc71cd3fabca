// The Debian trixie image (guest/debian/build.sh) booted by vireo's CLI in Node, over virtio-mmio and
// virtio-pci, with Debian's default systemd timeouts: to the root shell on ttyS0, then systemd's state,
// DHCP from the built-in stack, ping of the gateway, a wget from a server on the host's 127.0.0.1,
// `apt-get update` against a small apt repository served the same way, and a `--share` directory that the
// image mounts at /mnt/host by itself over virtio-9p with Debian's own 9p modules (files both ways). One
// more boot without a share: it reaches the shell and `running` as before, and the mount stays out of it.
//
// The image is not in the repository (about 2 GiB): `npm run guest:debian` builds it, `npm run
// test:debian` builds it and runs this file. `npm test` runs this file only when the image is there;
// without it, every test here is skipped and says why (VIREO_DEBIAN_TEST=1 makes the absence a failure).

import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  bootCommand,
  imageBuilt,
  LOGIN_RE,
  loadavg,
  manifest,
  SerialVm,
  SHELL_PROMPT_RE,
  type Transport,
} from "./serial.ts";

const BUILT = imageBuilt();
const REQUIRED = process.env.VIREO_DEBIAN_TEST === "1";
const ABSENT =
  "NOT RUN: guest/debian/out/ has no Debian image (npm run guest:debian builds it; npm run test:debian builds it and runs this)";
if (!BUILT) console.log(`guest/debian/debian.test.ts: ${ABSENT}`);

/** From spawn to the shell: the boot, with room for a slow, shared machine. */
const BOOT_MS = 1_500_000;

// --- what the host serves on 127.0.0.1 (the guest reaches it as 10.0.2.2:PORT) ---------------------

const BLOB = randomBytes(3 * 1024 * 1024 + 17);
const BLOB_SHA = createHash("sha256").update(BLOB).digest("hex");

/** A one-package apt repository ("flat" layout under dists/), as apt-ftparchive would write it. */
function aptRepo(): Map<string, Buffer> {
  const deb = Buffer.from("not a real .deb: apt-get update never fetches it\n");
  const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");
  const packages = Buffer.from(
    [
      "Package: vireo-probe",
      "Version: 1.2.3-4",
      "Architecture: all",
      "Maintainer: vireo <vireo@localhost>",
      "Installed-Size: 1",
      "Filename: pool/main/v/vireo-probe/vireo-probe_1.2.3-4_all.deb",
      `Size: ${deb.length}`,
      `SHA256: ${sha(deb)}`,
      "Section: misc",
      "Priority: optional",
      "Description: a package only vireo's Debian test serves",
      "",
    ].join("\n"),
  );
  const date = new Date(Date.now() - 86_400_000).toUTCString().replace("GMT", "UTC");
  const release = Buffer.from(
    [
      "Origin: vireo",
      "Label: vireo",
      "Suite: vireo",
      "Codename: vireo",
      `Date: ${date}`,
      "Architectures: riscv64 all",
      "Components: main",
      "Description: vireo test repository",
      "SHA256:",
      ` ${sha(packages)} ${packages.length} main/binary-riscv64/Packages`,
      ` ${sha(packages)} ${packages.length} main/binary-all/Packages`,
      "",
    ].join("\n"),
  );
  return new Map([
    ["/apt/dists/vireo/Release", release],
    ["/apt/dists/vireo/main/binary-riscv64/Packages", packages],
    ["/apt/dists/vireo/main/binary-all/Packages", packages],
  ]);
}

/** Boots the image with `extra` CLI arguments to the root shell (autologin, or root typed), kernel messages off. */
async function bootToShell(transport: Transport, extra: string[], what: string): Promise<SerialVm> {
  const load0 = loadavg();
  const [cmd, args] = bootCommand("vireo", transport, extra);
  const vm = new SerialVm(cmd, args);
  await vm.waitFor(LOGIN_RE, BOOT_MS);
  const login = vm.elapsed();
  // The image logs root in by itself (agetty --autologin); type the name if it did not.
  const auto = await vm.waitFor(/root \(automatic login\)/, 15_000).then(
    () => true,
    () => false,
  );
  if (!auto) vm.type("root\n");
  await vm.waitFor(SHELL_PROMPT_RE, 300_000);
  console.log(
    `debian ${what}: login prompt ${login.toFixed(1)} s, root shell ${vm.elapsed().toFixed(1)} s from spawn` +
      ` (${auto ? "autologin" : "typed root"}; loadavg before ${load0}, now ${loadavg()})`,
  );
  // Kernel messages on the console would land inside command output.
  await vm.run("dmesg -n 1");
  return vm;
}

/** `systemctl is-system-running --wait`, and the failed units when it is not `running`. */
async function systemState(vm: SerialVm): Promise<{ state: string; failed: string }> {
  const r = await vm.run("systemctl is-system-running --wait", 900_000);
  const state = r.out.trim().split("\n").pop() ?? "";
  const failed = state === "running" ? "" : (await vm.run("systemctl --failed --no-legend --plain --no-pager")).out;
  return { state, failed };
}

let server: Server | undefined;
let port = 0;
const requests: string[] = [];

describe.skipIf(!BUILT)(`Debian trixie image in vireo's CLI${BUILT ? "" : ` (${ABSENT})`}`, () => {
  beforeAll(async () => {
    const repo = aptRepo();
    server = createServer((req, res) => {
      const path = (req.url ?? "/").split("?")[0] ?? "/";
      requests.push(`${req.method} ${path}`);
      const body = path === "/blob" ? BLOB : repo.get(path);
      if (body === undefined) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { "content-length": body.length, "content-type": "application/octet-stream" });
      res.end(req.method === "HEAD" ? undefined : body);
    });
    await new Promise<void>((r) => server?.listen(0, "127.0.0.1", r));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => {
    server?.close();
  });

  for (const transport of ["mmio", "pci"] as Transport[]) {
    describe(`over virtio-${transport}`, () => {
      let vm: SerialVm | undefined;
      const need = (): SerialVm => {
        if (vm === undefined) throw new Error("the VM did not start");
        return vm;
      };

      /** The host directory the VM shares (`--share`), tagged "host" like the committed image's. */
      let share = "";

      beforeAll(async () => {
        share = mkdtempSync(join(tmpdir(), `vireo-debian-9p-${transport}-`));
        writeFileSync(join(share, "from-host.bin"), BLOB);
        vm = await bootToShell(transport, ["--share", share], transport);
      }, BOOT_MS + 400_000);

      afterAll(() => {
        vm?.kill();
        if (share !== "") rmSync(share, { recursive: true, force: true });
      });

      it("systemd finishes starting up and reports `running`", async () => {
        const { state, failed } = await systemState(need());
        if (state !== "running")
          expect.fail(`systemctl is-system-running: ${JSON.stringify(state)}; failed units:\n${failed}`);
        expect(state).toBe("running");
      }, 1_000_000);

      it("the kernel is Debian's stock one, and the disk and NIC sit on the chosen transport", async () => {
        const kpkg = Object.keys(manifest().packages).find((p) => /^linux-image-.*-riscv64$/.test(p)) ?? "?";
        const r = await need().run(`uname -r; readlink -f /sys/block/vda/device /sys/class/net/*/device | sort`);
        expect(r.status, r.out).toBe(0);
        expect(r.out).toContain(kpkg.replace(/^linux-image-/, ""));
        // virtio-mmio devices are platform devices at 0x100XX000; virtio-pci ones are under the PCIe root.
        const onTransport = transport === "mmio" ? /\/platform\/soc\/10\w+\.virtio_mmio\// : /\/pci0000:00\//;
        const devs = r.out.split("\n").filter((l) => l.includes("/virtio"));
        expect(devs.length, r.out).toBeGreaterThanOrEqual(2);
        for (const d of devs) expect(d, r.out).toMatch(onTransport);
      });

      it("systemd-networkd has a DHCP address in 10.0.2.0/24 from the stack; ping 10.0.2.2 answers", async () => {
        const wait = await need().run(
          "for i in $(seq 120); do ip -4 addr show | grep -q 'inet 10\\.0\\.2\\.' && break; sleep 1; done; ip -4 addr; ip -4 route",
          200_000,
        );
        expect(wait.out).toMatch(/inet 10\.0\.2\.\d+\/24 /);
        expect(wait.out).toMatch(/default via 10\.0\.2\.2 /);
        const ping = await need().run("ping -c1 -W5 10.0.2.2");
        expect(ping.status, ping.out).toBe(0);
        expect(ping.out).toMatch(/1 packets transmitted, 1 received/);
      }, 300_000);

      it("the image mounts the --share directory at /mnt/host by itself (no mount typed): a host file read and a guest file written, sha256 equal", async () => {
        // The image's mount-host-share.service found the 9p device and started mnt-host.mount before the logins.
        const unit = await need().run("systemctl is-active mnt-host.mount; grep ' /mnt/host ' /proc/mounts");
        expect(unit.out, unit.out).toMatch(/^active$/m);
        expect(unit.out).toMatch(/^host \/mnt\/host 9p .*trans=virtio/m);
        const r = await need().run(
          "grep ' /mnt/host ' /proc/mounts && sha256sum /mnt/host/from-host.bin && " +
            "head -c 1048583 /dev/urandom > /tmp/g.bin && cp /tmp/g.bin /mnt/host/from-guest.bin && sync && " +
            "sha256sum /tmp/g.bin && readlink -f /sys/bus/virtio/drivers/9pnet_virtio/virtio*",
          300_000,
        );
        expect(r.status, r.out).toBe(0);
        expect(r.out).toMatch(/^host \/mnt\/host 9p .*trans=virtio/m);
        expect(r.out).toContain(`${BLOB_SHA}  /mnt/host/from-host.bin`);
        const guestSha = /^([0-9a-f]{64}) {2}\/tmp\/g\.bin$/m.exec(r.out)?.[1];
        const onHost = readFileSync(join(share, "from-guest.bin"));
        expect(onHost.length).toBe(1048583);
        expect(createHash("sha256").update(onHost).digest("hex")).toBe(guestSha);
        // The 9p device is on the chosen transport too.
        const dev = r.out.split("\n").find((l) => l.includes("/virtio")) ?? "";
        expect(dev, r.out).toMatch(transport === "mmio" ? /\/platform\/soc\/10\w+\.virtio_mmio\// : /\/pci0000:00\//);
      }, 400_000);

      it("wget of a file from the host's 127.0.0.1 arrives with the same sha256", async () => {
        const r = await need().run(`wget -q -O /tmp/blob http://10.0.2.2:${port}/blob && sha256sum /tmp/blob`, 600_000);
        expect(r.status, r.out).toBe(0);
        expect(r.out).toContain(`${BLOB_SHA}  /tmp/blob`);
      }, 700_000);

      it("apt-get update reads a small apt repository served on the host's 127.0.0.1", async () => {
        const before = requests.length;
        // Only the local repository: the image's deb.debian.org entry is moved aside for this test.
        const setup = await need().run(
          `mkdir -p /root/apt-off && mv /etc/apt/sources.list.d/debian.sources /root/apt-off/ 2>/dev/null; ` +
            `echo "deb [trusted=yes] http://10.0.2.2:${port}/apt vireo main" > /etc/apt/sources.list.d/vireo.list`,
        );
        expect(setup.status, setup.out).toBe(0);
        const update = await need().run("apt-get update 2>&1", 900_000);
        expect(update.status, update.out).toBe(0);
        expect(update.out).not.toMatch(/^(W|E|Err):/m);
        const policy = await need().run("apt-cache policy vireo-probe");
        expect(policy.status, policy.out).toBe(0);
        expect(policy.out).toMatch(/Candidate: 1\.2\.3-4/);
        expect(policy.out).toContain(`http://10.0.2.2:${port}/apt vireo/main`);
        const got = requests.slice(before);
        expect(got).toContain("GET /apt/dists/vireo/Release");
        expect(got.some((r) => r.startsWith("GET /apt/dists/vireo/main/binary-"))).toBe(true);
      }, 1_000_000);
    });
  }
});

describe.skipIf(!BUILT)(`Debian trixie image booted without a share${BUILT ? "" : ` (${ABSENT})`}`, () => {
  let vm: SerialVm | undefined;
  const need = (): SerialVm => {
    if (vm === undefined) throw new Error("the VM did not start");
    return vm;
  };
  beforeAll(async () => {
    vm = await bootToShell("pci", [], "pci without --share");
  }, BOOT_MS + 400_000);
  afterAll(() => {
    vm?.kill();
  });

  it("reaches `running`; the host share's mount is neither started nor failed, and nothing is mounted at /mnt/host", async () => {
    const { state, failed } = await systemState(need());
    if (state !== "running")
      expect.fail(`systemctl is-system-running: ${JSON.stringify(state)}; failed units:\n${failed}`);
    // The service that looks for a share ran and found none; the mount was never started; no 9p driver loaded.
    const r = await need().run(
      "systemctl show -p ActiveState -p Result mount-host-share.service; systemctl show -p ActiveState -p Result mnt-host.mount; " +
        "echo mounted-$(grep -c ' /mnt/host ' /proc/mounts); ls /sys/bus/virtio/drivers",
    );
    expect(r.out.match(/^ActiveState=.*$/gm), r.out).toEqual(["ActiveState=active", "ActiveState=inactive"]);
    expect(r.out.match(/^Result=.*$/gm), r.out).toEqual(["Result=success", "Result=success"]);
    expect(r.out).toMatch(/^mounted-0$/m);
    expect(r.out).not.toContain("9pnet_virtio");
    // The units are in the image (the boots with a share above mount through them).
    const unit = await need().run("systemctl cat mnt-host.mount | grep -E '^(What|Where|Type)='");
    expect(unit.out).toMatch(/^Where=\/mnt\/host$/m);
  }, 1_000_000);
});

describe.runIf(!BUILT && REQUIRED)("Debian image required (VIREO_DEBIAN_TEST=1)", () => {
  it("guest/debian/out/ has the image", () => {
    expect.fail(ABSENT);
  });
});
