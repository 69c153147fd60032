import { strict as assert } from 'node:assert';
import { DEFAULT_CONFIG, validateConfig, type DaemonConfig } from '../../src/daemon/config.js';
import { isCompanionModule, kernelRebuildDelay, moduleLoadingVerdict, plan, softdepContent, type ModuleLoadingVerdict, type ObjectRecord, type ObservedObject, type PlanInput, type Step } from '../../src/daemon/plan.js';
import type { ObjectState } from '../../src/daemon/api.js';
import { DEFAULT_PROVIDERS, debuginfoEncoder, kernelProvided, localCache, type ExtrasProvider } from '../../src/daemon/providers.js';

function obj(name: string, over: Partial<ObservedObject> = {}): ObservedObject {
  return { name, buildId: `id-${name}`, hasBtf: true, kernelExtras: undefined, companionModule: undefined, companionLoaded: false, companionOurs: false, cached: false, ...over };
}
function rec(name: string, state: ObjectState, over: Partial<ObjectRecord> = {}): ObjectRecord {
  return { name, state, policy: 'always', buildId: `id-${name}`, companionTried: false, ...over };
}
const MAY_LOAD: ModuleLoadingVerdict = { allowed: true, sign: false };
function input(objects: ObservedObject[], records: ObjectRecord[] = [], over: Partial<PlanInput> = {}, moduleLoading: ModuleLoadingVerdict = MAY_LOAD): PlanInput {
  return {
    observation: { objects: new Map(objects.map((o) => [o.name, o])), moduleLoading },
    records: new Map(records.map((r) => [r.name, r])),
    requested: new Set(), forced: new Set(), retry: new Set(), running: new Set(), softdepsWritten: '',
    ...over,
  };
}
const kinds = (steps: Step[]): string[] => steps.map((s) => `${s.kind}:${'name' in s ? s.name : ''}`);
const cfg = (raw: unknown): DaemonConfig => validateConfig(raw, 'test.yaml');

describe('daemon/plan', () => {
  describe('policy always (the shipped default)', () => {
    it('generates for vmlinux and every loaded module, vmlinux first, then by name', () => {
      const steps = plan(input([obj('loop'), obj('crc7'), obj('vmlinux')]), DEFAULT_CONFIG);
      assert.deepEqual(kinds(steps), ['generate:vmlinux', 'generate:crc7', 'generate:loop']);
      assert.ok(steps.every((s) => s.kind !== 'generate' || (!s.bypassCache && s.policy === 'always')));
    });
    it('does nothing for a published object with the same build id', () => {
      assert.deepEqual(plan(input([obj('loop')], [rec('loop', 'published')]), DEFAULT_CONFIG), []);
    });
    it('regenerates when the build id changed (module replaced)', () => {
      const steps = plan(input([obj('loop', { buildId: 'new' })], [rec('loop', 'published')]), DEFAULT_CONFIG);
      // The old build's extras are withdrawn first (they would not split on the new BTF).
      assert.deepEqual(steps[0], { kind: 'withdraw-extras', name: 'loop', from: 'id-loop', to: 'new' });
      assert.deepEqual(kinds(steps), ['withdraw-extras:loop', 'generate:loop']);
    });
    it('leaves objects with a job in flight alone', () => {
      assert.deepEqual(plan(input([obj('a'), obj('b')], [rec('a', 'queued'), rec('b', 'generating')], { running: new Set(['a', 'b']) }), DEFAULT_CONFIG), []);
    });
    it('does not retry no-debuginfo or failed in a loop, but does after a retry signal', () => {
      const recs = [rec('a', 'no-debuginfo'), rec('b', 'failed')];
      assert.deepEqual(plan(input([obj('a'), obj('b')], recs), DEFAULT_CONFIG), []);
      assert.deepEqual(kinds(plan(input([obj('a'), obj('b')], recs, { retry: new Set(['a']) }), DEFAULT_CONFIG)), ['generate:a']);
    });
    it('skips an object without BTF, once', () => {
      const steps = plan(input([obj('nobtf', { hasBtf: false })]), DEFAULT_CONFIG);
      assert.equal(steps[0]?.kind, 'skip');
      assert.match((steps[0] as { reason: string }).reason, /no BTF/);
      assert.deepEqual(plan(input([obj('nobtf', { hasBtf: false })], [rec('nobtf', 'skipped')]), DEFAULT_CONFIG), []);
    });
    it('forced (regen) bypasses the cache even when published', () => {
      const steps = plan(input([obj('loop')], [rec('loop', 'published')], { forced: new Set(['loop']) }), DEFAULT_CONFIG);
      assert.deepEqual(steps, [{ kind: 'generate', name: 'loop', policy: 'always', buildId: 'id-loop', bypassCache: true }]);
    });
  });

  describe('preference order', () => {
    it('kernel-provided extras win over everything', () => {
      const o = obj('loop', { kernelExtras: '/sys/kernel/btf_extra/loop', companionModule: '/lib/modules/x/extra/loop-btf-extra.ko' });
      assert.deepEqual(plan(input([o]), DEFAULT_CONFIG)[0], { kind: 'use-kernel', name: 'loop', policy: 'always', path: '/sys/kernel/btf_extra/loop', buildId: 'id-loop' });
      // the companion in the tree still earns a softdep line
      const steps = plan(input([o]), DEFAULT_CONFIG);
      assert.deepEqual(kinds(steps), ['use-kernel:loop', 'write-softdeps:']);
      assert.deepEqual(plan(input([o], [rec('loop', 'kernel-provided')], { softdepsWritten: softdepContent(input([o]).observation) }), DEFAULT_CONFIG), []);
    });
    it('a loaded companion is recorded, not regenerated', () => {
      const o = obj('loop', { companionLoaded: true });
      assert.deepEqual(kinds(plan(input([o]), DEFAULT_CONFIG)), ['companion-present:loop']);
      assert.deepEqual(plan(input([o], [rec('loop', 'companion-loaded')]), DEFAULT_CONFIG), []);
    });
    it('a companion in the module tree is modprobed once, then generation takes over', () => {
      const o = obj('loop', { companionModule: '/lib/modules/r/extra/loop-btf-extra.ko' });
      const written = softdepContent(input([o]).observation);
      const first = plan(input([o], [], { softdepsWritten: written }), DEFAULT_CONFIG);
      assert.deepEqual(first, [{ kind: 'load-companion', name: 'loop', policy: 'always', module: '/lib/modules/r/extra/loop-btf-extra.ko', buildId: 'id-loop' }]);
      const second = plan(input([o], [rec('loop', 'failed', { companionTried: true })], { softdepsWritten: written, retry: new Set(['loop']) }), DEFAULT_CONFIG);
      assert.deepEqual(kinds(second), ['generate:loop']);
      // a new build of the module earns a new modprobe attempt
      const third = plan(input([obj('loop', { buildId: 'new', companionModule: o.companionModule })], [rec('loop', 'failed', { companionTried: true })], { softdepsWritten: written }), DEFAULT_CONFIG);
      assert.deepEqual(kinds(third), ['withdraw-extras:loop', 'load-companion:loop']);
    });
    it('companions.modprobe: false goes straight to generation', () => {
      const o = obj('loop', { companionModule: '/x/loop-btf-extra.ko' });
      assert.deepEqual(kinds(plan(input([o]), cfg({ companions: { modprobe: false, softdeps: false } }))), ['generate:loop']);
    });
  });

  describe('policy never and on-demand', () => {
    const c = cfg({ policy: { default: 'always', rules: [{ match: 'nf_*', policy: 'never' }, { match: 'kvm*', policy: 'on-demand' }] } });
    it('never -> skip with reason, nothing generated; once', () => {
      const steps = plan(input([obj('nf_tables')]), c);
      assert.deepEqual(steps, [{ kind: 'skip', name: 'nf_tables', policy: 'never', reason: 'policy never', buildId: 'id-nf_tables' }]);
      assert.deepEqual(plan(input([obj('nf_tables')], [rec('nf_tables', 'skipped', { policy: 'never' })]), c), []);
    });
    it('switching a published object to never skips (unpublishes) it', () => {
      assert.deepEqual(kinds(plan(input([obj('nf_tables')], [rec('nf_tables', 'published')]), c)), ['skip:nf_tables']);
    });
    it('on-demand -> skipped until requested, then generated', () => {
      assert.deepEqual(kinds(plan(input([obj('kvm')]), c)), ['skip:kvm']);
      const skipped = [rec('kvm', 'skipped', { policy: 'on-demand' })];
      assert.deepEqual(plan(input([obj('kvm')], skipped), c), []);
      assert.deepEqual(kinds(plan(input([obj('kvm')], skipped, { requested: new Set(['kvm']) }), c)), ['generate:kvm']);
      assert.deepEqual(kinds(plan(input([obj('kvm_intel')], [], { forced: new Set(['kvm_intel']) }), c)), ['generate:kvm_intel']);
    });
    it('default never covers vmlinux too', () => {
      assert.deepEqual(kinds(plan(input([obj('vmlinux'), obj('loop')]), cfg({ policy: { default: 'never' } }))), ['skip:vmlinux', 'skip:loop']);
    });
  });

  describe('unload and companions', () => {
    it('forgets records of objects no longer loaded', () => {
      assert.deepEqual(kinds(plan(input([obj('vmlinux')], [rec('vmlinux', 'published'), rec('loop', 'published'), rec('kvm', 'generating')]), DEFAULT_CONFIG)), ['forget:loop', 'forget:kvm']);
    });
    it('vmlinux has no companion module to modprobe', () => {
      assert.deepEqual(kinds(plan(input([obj('vmlinux', { companionModule: '/x' })]), cfg({ companions: { softdeps: false } }))), ['generate:vmlinux']);
    });
    it('a companion that was unloaded sends the object to generation', () => {
      assert.deepEqual(kinds(plan(input([obj('loop')], [rec('loop', 'companion-loaded', { companionTried: true })]), DEFAULT_CONFIG)), ['generate:loop']);
    });
    it('never plans anything for our own companion modules', () => {
      assert.ok(isCompanionModule('loop_btf_extra'));
      assert.ok(isCompanionModule('kvm-intel-btf-extra'));
      assert.ok(!isCompanionModule('loop'));
      assert.deepEqual(kinds(plan(input([obj('loop_btf_extra')]), DEFAULT_CONFIG)), []);
    });
  });

  describe('softdeps', () => {
    it('lists modules with a companion in the tree, sorted, and is rewritten only on change', () => {
      const objs = [obj('vmlinux', { companionModule: '/x' }), obj('loop', { companionModule: '/a', companionLoaded: true }), obj('crc7', { companionModule: '/b' }), obj('xfs')];
      const content = softdepContent(input(objs).observation);
      assert.match(content, /^# Written by btf-extrad.*\nsoftdep crc7 post: crc7-btf-extra\nsoftdep loop post: loop-btf-extra\n$/);
      const steps = plan(input(objs, [rec('vmlinux', 'published'), rec('loop', 'companion-loaded', { companionTried: true }), rec('crc7', 'published', { companionTried: true }), rec('xfs', 'published')]), DEFAULT_CONFIG);
      assert.deepEqual(steps, [{ kind: 'write-softdeps', content }]);
      assert.deepEqual(plan(input(objs, [rec('vmlinux', 'published'), rec('loop', 'companion-loaded', { companionTried: true }), rec('crc7', 'published', { companionTried: true }), rec('xfs', 'published')], { softdepsWritten: content }), DEFAULT_CONFIG), []);
    });
    it('an empty module set clears a written file; companions.softdeps false writes nothing', () => {
      assert.deepEqual(plan(input([], [], { softdepsWritten: 'softdep a post: a-btf-extra\n' }), DEFAULT_CONFIG), [{ kind: 'write-softdeps', content: '' }]);
      assert.deepEqual(plan(input([obj('loop', { companionModule: '/a' })], [rec('loop', 'published', { companionTried: true })]), cfg({ companions: { softdeps: false } })), []);
    });
  });
});

describe('daemon/plan: merged/kernel staleness', () => {
  const t = { debounceMs: 500, maxStaleMs: 10_000 };
  it('waits for the debounce after the last change when quiet', () => {
    assert.equal(kernelRebuildDelay({ now: 1000, dirtySince: 900, lastChange: 1000, busy: false }, t), 500);
  });
  it('never past the maximum staleness, whatever the activity or the jobs', () => {
    assert.equal(kernelRebuildDelay({ now: 10_700, dirtySince: 1000, lastChange: 10_700, busy: false }, t), 300);
    assert.equal(kernelRebuildDelay({ now: 5000, dirtySince: 1000, lastChange: 5000, busy: true }, t), 6000);
    assert.equal(kernelRebuildDelay({ now: 12_000, dirtySince: 1000, lastChange: 11_900, busy: true }, t), 0);
  });

  describe('generated companions (destination kernel/both)', () => {
    const both = cfg({ destination: 'both' });
    const loaded = { state: 'loaded' as const, buildId: 'id-loop' };
    it('inserts once the extras are published for the loaded build, not before, and not with destination files', () => {
      assert.deepEqual(plan(input([obj('loop')], [rec('loop', 'published')]), both), [{ kind: 'insert-companion', name: 'loop', buildId: 'id-loop', sign: false }]);
      assert.deepEqual(plan(input([obj('loop')], [rec('loop', 'generating')], { running: new Set(['loop']) }), both), []);
      assert.deepEqual(plan(input([obj('loop')], [rec('loop', 'no-debuginfo')]), both), []);
      assert.deepEqual(plan(input([obj('loop')], [rec('loop', 'published')]), DEFAULT_CONFIG), [], 'the default destination is files');
      assert.deepEqual(plan(input([obj('loop')], [rec('loop', 'published', { buildId: 'old' })]), both).map((s) => s.kind), ['withdraw-extras', 'generate'], 'a stale build regenerates first');
    });
    it('does not retry a settled outcome for the same build (not-loaded, released) unless regen clears it', () => {
      for (const state of ['not-loaded', 'released'] as const) {
        assert.deepEqual(plan(input([obj('loop')], [rec('loop', 'published', { kernel: { state, buildId: 'id-loop' } })]), both), [], state);
      }
      assert.deepEqual(plan(input([obj('loop')], [rec('loop', 'published', { kernel: { state: 'not-loaded', buildId: 'old' } })]), both).map((s) => s.kind), ['insert-companion'], 'a new build tries again');
    });
    it('plans nothing for an object while its job or kernel operation is in flight', () => {
      assert.deepEqual(plan(input([obj('loop')], [rec('loop', 'published')], { running: new Set(['loop']) }), both), []);
      const ours = obj('loop', { companionLoaded: true, companionOurs: true });
      assert.deepEqual(plan(input([ours], [rec('loop', 'published', { kernel: loaded })], { running: new Set(['loop']) }), DEFAULT_CONFIG), []);
    });
    it('says why instead of inserting when the kernel would refuse (lockdown, modules_disabled)', () => {
      const refused = moduleLoadingVerdict({ lockdown: 'integrity', sigEnforce: false, modulesDisabled: false }, false);
      const steps = plan(input([obj('loop')], [rec('loop', 'published')], {}, refused), both);
      assert.equal(steps.length, 1);
      assert.equal(steps[0]?.kind, 'companion-blocked');
      assert.equal((steps[0] as { code: string }).code, 'companion-unsigned');
    });
    it('adopts its own companion found loaded (daemon restart), removes it when the destination becomes files or the policy never', () => {
      const ours = obj('loop', { companionLoaded: true, companionOurs: true });
      assert.deepEqual(plan(input([ours], [rec('loop', 'published')]), both), [{ kind: 'adopt-companion', name: 'loop', buildId: 'id-loop' }]);
      assert.deepEqual(plan(input([ours], [rec('loop', 'published', { kernel: loaded })]), both), []);
      assert.deepEqual(plan(input([ours], [rec('loop', 'published', { kernel: loaded })]), DEFAULT_CONFIG), [{ kind: 'remove-companion', name: 'loop', reason: 'destination: files', then: 'not-loaded' }]);
      const never = cfg({ destination: 'both', policy: { rules: [{ match: 'loop', policy: 'never' }] } });
      assert.deepEqual(kinds(plan(input([ours], [rec('loop', 'published', { kernel: loaded })]), never)), ['remove-companion:loop', 'skip:loop']);
    });
    it('a distribution companion keeps precedence: it is used as the source, never removed or replaced', () => {
      const distro = obj('loop', { companionLoaded: true, companionOurs: false, companionModule: '/lib/modules/r/updates/loop-btf-extra.ko' });
      assert.deepEqual(kinds(plan(input([distro]), both)), ['companion-present:loop', 'write-softdeps:']);
      assert.deepEqual(plan(input([distro], [rec('loop', 'companion-loaded')]), both).filter((s) => s.kind !== 'write-softdeps'), []);
    });
    it('notices its companion removed by hand (drops the hold, no reinsert), and removes a companion whose base is gone before forgetting it', () => {
      assert.deepEqual(plan(input([obj('loop')], [rec('loop', 'published', { kernel: loaded })]), both), [{ kind: 'companion-gone', name: 'loop', buildId: 'id-loop' }]);
      assert.deepEqual(plan(input([], [rec('loop', 'published', { kernel: loaded })]), both), [{ kind: 'remove-companion', name: 'loop', reason: 'loop unloaded', then: 'forget' }]);
    });
  });

  describe('moduleLoadingVerdict', () => {
    const open = { lockdown: 'none', sigEnforce: false, modulesDisabled: false };
    it('allows unsigned modules on an open kernel, and signs when a key is configured', () => {
      assert.deepEqual(moduleLoadingVerdict(open, false), { allowed: true, sign: false });
      assert.deepEqual(moduleLoadingVerdict({ ...open, lockdown: undefined }, true), { allowed: true, sign: true });
    });
    it('refuses unsigned under lockdown or sig_enforce, with a hint; a key lets insmod decide', () => {
      for (const s of [{ ...open, lockdown: 'integrity' }, { ...open, lockdown: 'confidentiality' }, { ...open, sigEnforce: true }]) {
        const v = moduleLoadingVerdict(s, false);
        assert.ok(!v.allowed && v.code === 'companion-unsigned' && /signKey/.test(v.hint), JSON.stringify(s));
        assert.deepEqual(moduleLoadingVerdict(s, true), { allowed: true, sign: true });
      }
    });
    it('refuses everything once modules_disabled is set, key or not', () => {
      const v = moduleLoadingVerdict({ ...open, modulesDisabled: true }, true);
      assert.ok(!v.allowed && v.code === 'modules-disabled');
    });
  });

  describe('providers: the order and the fallbacks are plan()\'s', () => {
    it('the built-in order: kernel-provided, loaded companion, shipped companion, local cache, debuginfo + encoder', () => {
      assert.deepEqual(DEFAULT_PROVIDERS.map((p) => p.name), ['kernel-provided', 'loaded companion', 'shipped companion', 'local cache', 'debuginfo + encoder']);
    });
    it('a cached object is served from the cache, not encoded; a regen bypasses the cache', () => {
      assert.deepEqual(plan(input([obj('loop', { cached: true })]), DEFAULT_CONFIG), [{ kind: 'use-cache', name: 'loop', policy: 'always', buildId: 'id-loop' }]);
      assert.deepEqual(kinds(plan(input([obj('loop', { cached: true })], [rec('loop', 'published')], { forced: new Set(['loop']) }), DEFAULT_CONFIG)), ['generate:loop']);
    });
    it('a rejected cache entry falls back to the encoder for that build only', () => {
      const rejected = rec('loop', 'queued', { cacheRejected: 'id-loop' });
      assert.deepEqual(kinds(plan(input([obj('loop', { cached: true })], [rejected]), DEFAULT_CONFIG)), ['generate:loop']);
      assert.deepEqual(kinds(plan(input([obj('loop', { cached: true, buildId: 'new' })], [rejected]), DEFAULT_CONFIG)), ['withdraw-extras:loop', 'use-cache:loop']);
    });
    it('a shipped companion is tried once per build, then the cache and the encoder take over', () => {
      const shipped = obj('loop', { companionModule: '/lib/modules/r/extra/loop-btf-extra.ko', cached: true });
      assert.deepEqual(kinds(plan(input([shipped]), DEFAULT_CONFIG)).filter((k) => !k.startsWith('write-softdeps')), ['load-companion:loop']);
      assert.deepEqual(kinds(plan(input([shipped], [rec('loop', 'queued', { companionTried: true })]), DEFAULT_CONFIG)).filter((k) => !k.startsWith('write-softdeps')), ['use-cache:loop']);
    });
    it('a new source is one more provider in the list: asked in its place, skipped when it passes', () => {
      const remote: ExtrasProvider = { name: 'remote', propose: (c) => (c.o.name === 'loop' ? { step: { kind: 'use-cache', name: 'loop', policy: c.policy, buildId: c.o.buildId } } : 'next') };
      const list = [kernelProvided, localCache, remote, debuginfoEncoder];
      assert.deepEqual(kinds(plan(input([obj('loop'), obj('crc7')]), DEFAULT_CONFIG, list)), ['generate:crc7', 'use-cache:loop']);
      assert.deepEqual(kinds(plan(input([obj('loop', { kernelExtras: '/sys/kernel/btf_extra/loop' })]), DEFAULT_CONFIG, list)), ['use-kernel:loop'], 'earlier providers still win');
    });
  });
});
