//! CPU jobs: deterministic WebAssembly with fuel metering, checked by replication.
//!
//! Why this shape: a result cannot be checked without redoing the work, so a job runs
//! on two hosts and counts as verified when both report the same output hash and fuel;
//! a disagreement calls a third run and the odd one out is penalised. That only works
//! if execution is deterministic, so the executor ([`execute`]) uses `wasmi` with fuel
//! metering, floats disabled (NaN bit patterns are the one non-determinism of core
//! WebAssembly), no start function, a memory limit that traps, and no host functions
//! but reading inputs and writing output. Fuel makes every run end: a loop runs out of
//! fuel and ends in [`ExecError::OutOfFuel`], never a hang.
//!
//! Host interface (module `cairn`):
//! - `input_count() -> i32`
//! - `input_len(index: i32) -> i32` (−1 when there is no such input)
//! - `input_read(index: i32, offset: i32, ptr: i32, len: i32) -> i32` copies up to
//!   `len` bytes of input `index` from `offset` to memory at `ptr`, returns the count
//! - `output_write(ptr: i32, len: i32)` appends to the output
//!
//! The module exports `memory` and `run: () -> ()`.

use std::collections::BTreeMap;

use ed25519_dalek::SigningKey;
use serde::Serialize;
use thiserror::Error;
use wasmi::errors::{ErrorKind, MemoryError, TableError};
use wasmi::{
    Caller, Config, EnforcedLimits, Engine, Linker, Memory, Module, ResourceLimiter, Store,
    StoreLimits, StoreLimitsBuilder, TrapCode,
};
use wasmi_core::LimiterError;

use crate::codec::{DecodeError, Reader, Writer};
use crate::types::{BlockId, Hash32, PublicKey, Sig, SignatureError, read_hash, read_pk, read_sig};

/// Domain tag of a job.
pub const JOB_DOMAIN: &str = "cairn-market/job";
/// Domain tag of a job report.
pub const JOB_REPORT_DOMAIN: &str = "cairn-market/job-report";
/// Most inputs a job may name.
pub const MAX_JOB_INPUTS: usize = 64;
/// Largest encoded job.
pub const MAX_JOB_BYTES: usize = 128 + MAX_JOB_INPUTS * 32;
/// Size of an encoded job report (fixed).
pub const JOB_REPORT_BYTES: usize = JOB_REPORT_DOMAIN.len() + 1 + 32 + 32 + 32 + 8 + 64;
/// Largest memory a job may ask for (256 MiB).
pub const MAX_JOB_MEMORY: u32 = 256 << 20;
/// Largest output a job may ask for (16 MiB).
pub const MAX_JOB_OUTPUT: u32 = 16 << 20;

/// A unit of work: run `module` on `inputs` within the limits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Job {
    /// BLAKE3 of the module's bytes.
    pub module: BlockId,
    /// BLAKE3 of each input block.
    pub inputs: Vec<BlockId>,
    /// Most fuel the run may use.
    pub fuel_limit: u64,
    /// Most linear memory, bytes.
    pub memory_limit: u32,
    /// Most output, bytes.
    pub max_output: u32,
}

impl Job {
    /// Canonical bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::with_header(JOB_DOMAIN, 1);
        w.raw(&self.module.0);
        w.u32(self.inputs.len() as u32);
        for i in &self.inputs {
            w.raw(&i.0);
        }
        w.u64(self.fuel_limit);
        w.u32(self.memory_limit);
        w.u32(self.max_output);
        w.finish()
    }
    /// The job's id: BLAKE3 of its bytes.
    pub fn id(&self) -> Hash32 {
        Hash32::of(&self.to_bytes())
    }
    /// Decode (at most [`MAX_JOB_BYTES`]).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes, MAX_JOB_BYTES)?;
        r.header(JOB_DOMAIN, 1)?;
        let module = read_hash(&mut r)?;
        let n = r.count("job inputs", MAX_JOB_INPUTS, 32)?;
        let mut inputs = Vec::with_capacity(n);
        for _ in 0..n {
            inputs.push(read_hash(&mut r)?);
        }
        let job = Job {
            module,
            inputs,
            fuel_limit: r.u64()?,
            memory_limit: r.u32()?,
            max_output: r.u32()?,
        };
        r.finish()?;
        if job.memory_limit > MAX_JOB_MEMORY || job.max_output > MAX_JOB_OUTPUT {
            return Err(DecodeError::InvalidValue { what: "job limits" });
        }
        Ok(job)
    }
}

/// A finished run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecOutcome {
    /// BLAKE3 of the output.
    pub output_hash: Hash32,
    /// Fuel consumed.
    pub fuel_used: u64,
    /// The output bytes.
    pub output: Vec<u8>,
}

/// How a run failed. Every failure ends the run; none hangs.
#[derive(Debug, Clone, PartialEq, Eq, Error, Serialize)]
#[non_exhaustive]
pub enum ExecError {
    /// The module bytes do not hash to the job's module id.
    #[error("module does not match the job")]
    ModuleMismatch,
    /// An input does not hash to its id, or the count differs.
    #[error("input {0} does not match the job")]
    InputMismatch(usize),
    /// The job's limits exceed what an executor accepts.
    #[error("job limits exceed the executor's")]
    LimitsTooLarge,
    /// The module does not validate, or imports something not offered.
    #[error("invalid module: {0}")]
    InvalidModule(String),
    /// No `run` function or `memory` export.
    #[error("module lacks the `run` export")]
    MissingEntry,
    /// The run used all its fuel.
    #[error("out of fuel after {limit} units")]
    OutOfFuel {
        /// The limit reached.
        limit: u64,
    },
    /// The module asked for more memory than allowed.
    #[error("memory limit exceeded")]
    MemoryLimit,
    /// The module wrote more output than allowed.
    #[error("output limit exceeded")]
    OutputLimit,
    /// The module trapped.
    #[error("trap: {0}")]
    Trap(String),
}

struct HostState {
    inputs: Vec<Vec<u8>>,
    output: Vec<u8>,
    max_output: usize,
    output_overflow: bool,
    limits: JobLimiter,
}

/// wasmi's [`StoreLimits`], remembering whether it denied memory, so that a memory
/// limit is reported as such whether it hit at instantiation or at `memory.grow`.
struct JobLimiter {
    inner: StoreLimits,
    memory_denied: bool,
}

impl ResourceLimiter for JobLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> Result<bool, LimiterError> {
        let r = self.inner.memory_growing(current, desired, maximum);
        if !matches!(r, Ok(true)) {
            self.memory_denied = true;
        }
        r
    }
    fn memory_grow_failed(&mut self, error: &MemoryError) -> Result<(), LimiterError> {
        self.memory_denied = true;
        self.inner.memory_grow_failed(error)
    }
    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> Result<bool, LimiterError> {
        self.inner.table_growing(current, desired, maximum)
    }
    fn table_grow_failed(&mut self, error: &TableError) -> Result<(), LimiterError> {
        self.inner.table_grow_failed(error)
    }
    fn instances(&self) -> usize {
        self.inner.instances()
    }
    fn tables(&self) -> usize {
        self.inner.tables()
    }
    fn memories(&self) -> usize {
        self.inner.memories()
    }
}

fn memory_of(caller: &Caller<'_, HostState>) -> Result<Memory, wasmi::Error> {
    caller
        .get_export("memory")
        .and_then(|e| e.into_memory())
        .ok_or_else(|| wasmi::Error::new("no memory export"))
}

fn engine() -> Engine {
    let mut config = Config::default();
    config.consume_fuel(true);
    config.floats(false);
    config.allow_start_fn(false);
    config.enforced_limits(EnforcedLimits::strict());
    Engine::new(&config)
}

/// Run `job` on `module` and `inputs` (the bytes named by the job), deterministically.
pub fn execute(job: &Job, module: &[u8], inputs: &[&[u8]]) -> Result<ExecOutcome, ExecError> {
    if Hash32::of(module) != job.module {
        return Err(ExecError::ModuleMismatch);
    }
    if inputs.len() != job.inputs.len() {
        return Err(ExecError::InputMismatch(inputs.len().min(job.inputs.len())));
    }
    for (i, (bytes, id)) in inputs.iter().zip(&job.inputs).enumerate() {
        if Hash32::of(bytes) != *id {
            return Err(ExecError::InputMismatch(i));
        }
    }
    if job.memory_limit > MAX_JOB_MEMORY || job.max_output > MAX_JOB_OUTPUT {
        return Err(ExecError::LimitsTooLarge);
    }
    let engine = engine();
    let module =
        Module::new(&engine, module).map_err(|e| ExecError::InvalidModule(e.to_string()))?;
    let state = HostState {
        inputs: inputs.iter().map(|b| b.to_vec()).collect(),
        output: Vec::new(),
        max_output: job.max_output as usize,
        output_overflow: false,
        limits: JobLimiter {
            inner: StoreLimitsBuilder::new()
                .memory_size(job.memory_limit as usize)
                .memories(1)
                .tables(1)
                .instances(1)
                .trap_on_grow_failure(true)
                .build(),
            memory_denied: false,
        },
    };
    let mut store = Store::new(&engine, state);
    store.limiter(|s| &mut s.limits);
    store
        .set_fuel(job.fuel_limit)
        .map_err(|e| ExecError::Trap(e.to_string()))?;
    let linker = linker(&engine)?;
    let instance = linker
        .instantiate_and_start(&mut store, &module)
        .map_err(|e| classify(&e, job, false, store.data().limits.memory_denied))?;
    let run = instance
        .get_typed_func::<(), ()>(&store, "run")
        .map_err(|_| ExecError::MissingEntry)?;
    let result = run.call(&mut store, ());
    let fuel_left = store.get_fuel().unwrap_or(0);
    if let Err(e) = result {
        return Err(classify(
            &e,
            job,
            store.data().output_overflow,
            store.data().limits.memory_denied,
        ));
    }
    let output = std::mem::take(&mut store.data_mut().output);
    Ok(ExecOutcome {
        output_hash: Hash32::of(&output),
        fuel_used: job.fuel_limit.saturating_sub(fuel_left),
        output,
    })
}

fn classify(e: &wasmi::Error, job: &Job, output_overflow: bool, memory_denied: bool) -> ExecError {
    if output_overflow {
        return ExecError::OutputLimit;
    }
    if memory_denied {
        return ExecError::MemoryLimit;
    }
    match e.kind() {
        ErrorKind::TrapCode(TrapCode::OutOfFuel) => ExecError::OutOfFuel {
            limit: job.fuel_limit,
        },
        ErrorKind::TrapCode(TrapCode::GrowthOperationLimited) | ErrorKind::Memory(_) => {
            ExecError::MemoryLimit
        }
        ErrorKind::TrapCode(t) => ExecError::Trap(t.to_string()),
        ErrorKind::Linker(_) | ErrorKind::Instantiation(_) => {
            ExecError::InvalidModule(e.to_string())
        }
        _ => ExecError::Trap(e.to_string()),
    }
}

fn linker(engine: &Engine) -> Result<Linker<HostState>, ExecError> {
    let mut l = Linker::<HostState>::new(engine);
    let err = |e: wasmi::errors::LinkerError| ExecError::InvalidModule(e.to_string());
    l.func_wrap("cairn", "input_count", |c: Caller<'_, HostState>| -> i32 {
        i32::try_from(c.data().inputs.len()).unwrap_or(i32::MAX)
    })
    .map_err(err)?;
    l.func_wrap(
        "cairn",
        "input_len",
        |c: Caller<'_, HostState>, idx: i32| -> i32 {
            usize::try_from(idx)
                .ok()
                .and_then(|i| c.data().inputs.get(i))
                .map(|b| i32::try_from(b.len()).unwrap_or(i32::MAX))
                .unwrap_or(-1)
        },
    )
    .map_err(err)?;
    l.func_wrap(
        "cairn",
        "input_read",
        |mut c: Caller<'_, HostState>,
         idx: i32,
         offset: i32,
         ptr: i32,
         len: i32|
         -> Result<i32, wasmi::Error> {
            let mem = memory_of(&c)?;
            let (i, off, p, n) = (
                idx as u32 as usize,
                offset as u32 as usize,
                ptr as u32 as usize,
                len as u32 as usize,
            );
            let (data, state) = mem.data_and_store_mut(&mut c);
            let input = state
                .inputs
                .get(i)
                .ok_or_else(|| wasmi::Error::new("no such input"))?;
            let src = input.get(off.min(input.len())..).unwrap_or(&[]);
            let k = n.min(src.len());
            let dst = data
                .get_mut(p..p.checked_add(k).ok_or_else(|| wasmi::Error::new("range"))?)
                .ok_or_else(|| wasmi::Error::new("out of bounds"))?;
            dst.copy_from_slice(src.get(..k).unwrap_or(&[]));
            Ok(k as i32)
        },
    )
    .map_err(err)?;
    l.func_wrap(
        "cairn",
        "output_write",
        |mut c: Caller<'_, HostState>, ptr: i32, len: i32| -> Result<(), wasmi::Error> {
            let mem = memory_of(&c)?;
            let (p, n) = (ptr as u32 as usize, len as u32 as usize);
            let (data, state) = mem.data_and_store_mut(&mut c);
            if state.output.len().saturating_add(n) > state.max_output {
                state.output_overflow = true;
                return Err(wasmi::Error::new("output limit"));
            }
            let src = data
                .get(p..p.checked_add(n).ok_or_else(|| wasmi::Error::new("range"))?)
                .ok_or_else(|| wasmi::Error::new("out of bounds"))?;
            state.output.extend_from_slice(src);
            Ok(())
        },
    )
    .map_err(err)?;
    Ok(l)
}

/// A host's signed statement of a job's result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobReport {
    /// The job's id.
    pub job: Hash32,
    /// The host.
    pub host: PublicKey,
    /// BLAKE3 of the output.
    pub output_hash: Hash32,
    /// Fuel used.
    pub fuel_used: u64,
    /// The host's signature.
    pub signature: Sig,
}

impl JobReport {
    fn message(job: &Hash32, host: &PublicKey, output_hash: &Hash32, fuel_used: u64) -> Vec<u8> {
        let mut w = Writer::with_header(JOB_REPORT_DOMAIN, 1);
        w.raw(&job.0);
        w.raw(&host.0);
        w.raw(&output_hash.0);
        w.u64(fuel_used);
        w.finish()
    }
    /// Sign a report.
    pub fn sign(key: &SigningKey, job: Hash32, output_hash: Hash32, fuel_used: u64) -> Self {
        let host = PublicKey::of(key);
        let signature = Sig::sign(key, &Self::message(&job, &host, &output_hash, fuel_used));
        JobReport {
            job,
            host,
            output_hash,
            fuel_used,
            signature,
        }
    }
    /// Check the signature.
    pub fn verify(&self) -> Result<(), SignatureError> {
        self.host.verify(
            &Self::message(&self.job, &self.host, &self.output_hash, self.fuel_used),
            &self.signature,
        )
    }
    /// Canonical bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut b = Self::message(&self.job, &self.host, &self.output_hash, self.fuel_used);
        b.extend_from_slice(&self.signature.0);
        b
    }
    /// Decode (exactly [`JOB_REPORT_BYTES`]); does not verify.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes, JOB_REPORT_BYTES)?;
        r.header(JOB_REPORT_DOMAIN, 1)?;
        let rep = JobReport {
            job: read_hash(&mut r)?,
            host: read_pk(&mut r)?,
            output_hash: read_hash(&mut r)?,
            fuel_used: r.u64()?,
            signature: read_sig(&mut r)?,
        };
        r.finish()?;
        Ok(rep)
    }
}

/// What the reports on one job establish.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum JobVerdict {
    /// Fewer than two valid reports.
    NeedsMoreRuns,
    /// Two or more hosts agree and none disagrees.
    Verified {
        /// The agreed output hash.
        output_hash: Hash32,
        /// The agreed fuel.
        fuel_used: u64,
    },
    /// Two reports disagree: run it on a third host.
    NeedsThirdRun,
    /// A majority of at least two agrees; the others are penalised.
    Resolved {
        /// The majority's output hash.
        output_hash: Hash32,
        /// The majority's fuel.
        fuel_used: u64,
        /// Hosts whose report differs from the majority.
        odd_ones_out: Vec<PublicKey>,
    },
    /// No majority.
    Unresolved,
}

/// Judge the reports for `job` (reports for other jobs, with bad signatures, or
/// repeated hosts are ignored).
pub fn adjudicate(job: &Hash32, reports: &[JobReport]) -> JobVerdict {
    let mut by_host: BTreeMap<PublicKey, &JobReport> = BTreeMap::new();
    for r in reports {
        if r.job == *job && r.verify().is_ok() {
            by_host.entry(r.host).or_insert(r);
        }
    }
    if by_host.len() < 2 {
        return JobVerdict::NeedsMoreRuns;
    }
    let mut groups: BTreeMap<(Hash32, u64), Vec<PublicKey>> = BTreeMap::new();
    for r in by_host.values() {
        groups
            .entry((r.output_hash, r.fuel_used))
            .or_default()
            .push(r.host);
    }
    if groups.len() == 1 {
        let ((output_hash, fuel_used), _) = groups.into_iter().next().unwrap_or_default();
        return JobVerdict::Verified {
            output_hash,
            fuel_used,
        };
    }
    if by_host.len() == 2 {
        return JobVerdict::NeedsThirdRun;
    }
    let mut sizes: Vec<(usize, (Hash32, u64))> =
        groups.iter().map(|(k, v)| (v.len(), *k)).collect();
    sizes.sort_by_key(|s| std::cmp::Reverse(s.0));
    match sizes.as_slice() {
        [(top, key), rest @ ..] if *top >= 2 && rest.iter().all(|(n, _)| n < top) => {
            let odd_ones_out = groups
                .iter()
                .filter(|(k, _)| *k != key)
                .flat_map(|(_, v)| v.iter().copied())
                .collect();
            JobVerdict::Resolved {
                output_hash: key.0,
                fuel_used: key.1,
                odd_ones_out,
            }
        }
        _ => JobVerdict::Unresolved,
    }
}

/// A compute-bound sample module (written in WAT): FNV-1a over input 0 (up to 4 KiB),
/// repeated `rounds` times, writing the 8-byte hash. Used by the simulation, the tests
/// and the benchmark.
pub fn fnv_module(rounds: u32) -> Vec<u8> {
    let wat = format!(
        r#"(module
  (import "cairn" "input_read" (func $input_read (param i32 i32 i32 i32) (result i32)))
  (import "cairn" "output_write" (func $output_write (param i32 i32)))
  (memory (export "memory") 1)
  (func (export "run")
    (local $n i32) (local $i i32) (local $h i64) (local $r i32)
    (local.set $n (call $input_read (i32.const 0) (i32.const 0) (i32.const 16) (i32.const 4096)))
    (local.set $h (i64.const 0xcbf29ce484222325))
    (block $done
      (loop $outer
        (br_if $done (i32.ge_u (local.get $r) (i32.const {rounds})))
        (local.set $i (i32.const 0))
        (block $inner_done
          (loop $inner
            (br_if $inner_done (i32.ge_u (local.get $i) (local.get $n)))
            (local.set $h (i64.mul (i64.xor (local.get $h) (i64.load8_u offset=16 (local.get $i)))
                                   (i64.const 0x100000001b3)))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $inner)))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $outer)))
    (i64.store (i32.const 0) (local.get $h))
    (call $output_write (i32.const 0) (i32.const 8))))"#
    );
    // The text is fixed above; only the round count varies, so it always parses.
    wat::parse_str(wat).unwrap_or_default()
}
