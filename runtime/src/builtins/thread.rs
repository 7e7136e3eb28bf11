//! Threading primitives (LANGUAGE.md §9.16): mutexes and condition variables as
//! `ptr` handles, plus `thread_current`, `thread_yield` and `thread_sleep`.
//!
//! A handle is an [`OpaqueObj`](crate::heap::OpaqueObj) whose payload holds an
//! `Arc` to the shared state, so the state outlives the heap object while a thread
//! is blocked on it and can be shared with other threads. The lock is a
//! `Mutex<Option<ThreadId>>` (the owner) plus a `Condvar`, which lets `mutex_lock`
//! and `mutex_unlock` be separate calls. Ownership is checked like an
//! error-checking pthread mutex: relocking a mutex the thread already holds, or
//! unlocking one it does not hold, is a runtime error instead of a deadlock or
//! undefined behaviour.
//!
//! Threads themselves (`thread_spawn`, `thread_join`) are started and joined by
//! the VM, which owns what a new thread needs (the program, the globals to copy,
//! the tier): their table entries carry the [`HOSTED`](super::HOSTED) flag and the
//! VM calls its own implementation (`src/vm/threads.rs`). The state they share
//! with the thread — its outcome and the handle — is defined here, next to the
//! other handles: [`ThreadState`], [`ThreadHandle`]. Channels ([`ChanState`])
//! carry values between threads as [`Parcel`]s (deep copies; every thread has its
//! own heap).
//!
//! Output order across threads: every thread buffers its own stdout. It writes
//! the buffer out before it blocks and before every operation that lets another
//! thread go on (unlocking a mutex, signalling, sending, ending), so output that
//! happens before an event in another thread (by a mutex, a channel or a join) is
//! written before that thread's later output.

use super::{b, Builtin, HOSTED, KIND_OF_T};
use crate::heap::{as_opaque, obj_kind, ObjKind, Parcel};
use crate::rt::{Rt, RtError, RtResult};
use crate::value::ValKind;
use crate::value::Value;
use std::any::Any;
use std::cell::Cell;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::{self, ThreadId};

#[rustfmt::skip] // one builtin per line: name, signature, meaning, implementation, flags
pub const TABLE: &[Builtin] = &[
    b("thread_spawn", "(fn(int) -> int, int) -> ptr", "runs f(arg) on a new thread (own heap; globals and arguments copied)", hosted, HOSTED),
    b("thread_join", "(ptr) -> int", "waits for the thread to end; its result, or its exception raised again", hosted, HOSTED),
    b("thread_detach", "(ptr) -> bool", "lets the thread run on unjoined; false if it was joined or detached already", thread_detach, 0),
    b("chan_new", "(int) -> chan[T]", "a channel holding at most capacity values (0: no limit)", chan_new, 0),
    b("chan_send", "(chan[T], T) -> void", "sends a copy of the value; waits while the channel is full", chan_send, KIND_OF_T),
    b("chan_recv", "(chan[T]) -> T", "the next value; waits for one (an error once the channel is closed and empty)", chan_recv, 0),
    b("chan_try_recv", "(chan[T], T) -> T", "the next value if one is waiting, else default", chan_try_recv, 0),
    b("chan_close", "(chan[T]) -> void", "no more sends; receivers get the values left, then an error", chan_close, 0),
    b("chan_len", "(chan[T]) -> int", "how many values are waiting", chan_len, 0),
    b("thread_current", "() -> int", "id of the running thread (0 for the main one)", thread_current, 0),
    b("thread_yield", "() -> void", "yields the processor", thread_yield, 0),
    b("thread_sleep", "(int) -> void", "pauses for the given milliseconds", thread_sleep, 0),
    b("mutex_new", "() -> ptr", "a new mutex", mutex_new, 0),
    b("mutex_lock", "(ptr) -> void", "locks the mutex (an error if this thread holds it already)", mutex_lock, 0),
    b("mutex_unlock", "(ptr) -> void", "unlocks a mutex this thread holds", mutex_unlock, 0),
    b("mutex_trylock", "(ptr) -> bool", "locks the mutex if it is free; whether it did", mutex_trylock, 0),
    b("cond_new", "() -> ptr", "a new condition variable", cond_new, 0),
    b("cond_wait", "(ptr, ptr) -> void", "releases the mutex, waits for a signal, locks it again", cond_wait, 0),
    b("cond_signal", "(ptr) -> void", "wakes one waiter", cond_signal, 0),
    b("cond_broadcast", "(ptr) -> void", "wakes every waiter", cond_broadcast, 0),
];

thread_local! {
    /// The language-level id of the running thread: 0 unless set.
    static THREAD_ID: Cell<i64> = const { Cell::new(0) };
}

/// Set the id `thread_current()` reports on this OS thread. The thread that runs
/// `main` never needs to call this (it is 0); threads started by the language get
/// their ids from the code that starts them.
pub fn set_current_thread_id(id: i64) {
    THREAD_ID.with(|t| t.set(id));
}

/// State of a language mutex: the owning thread, if locked.
#[derive(Default)]
pub struct LockState {
    owner: Mutex<Option<ThreadId>>,
    released: Condvar,
}

/// Payload of a mutex handle.
pub struct MutexHandle(pub Arc<LockState>);

/// State of a condition variable: a generation counter bumped by every signal, so a
/// waiter can tell a wake-up from a spurious return and no signal is lost between
/// releasing the mutex and starting to wait.
#[derive(Default)]
pub struct CondState {
    seq: Mutex<u64>,
    changed: Condvar,
}

/// Payload of a condition-variable handle.
pub struct CondHandle(pub Arc<CondState>);

/// Lock a std mutex, ignoring poisoning (our critical sections cannot leave the
/// state inconsistent). Also used by the VM's and the tier's thread state.
pub fn guard<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

unsafe fn payload<T: Any>(v: Value) -> Option<&'static T> {
    if v.is_null() || obj_kind(v) != ObjKind::Opaque {
        return None;
    }
    let any: &(dyn Any + Send + Sync) = &*as_opaque(v).payload;
    any.downcast_ref::<T>()
}

unsafe fn mutex_state(v: Value, name: &str) -> Result<Arc<LockState>, RtError> {
    match payload::<MutexHandle>(v) {
        Some(h) => Ok(h.0.clone()),
        None => Err(RtError::msg(format!("{name} expects a mutex"))),
    }
}

unsafe fn cond_state(v: Value, name: &str) -> Result<Arc<CondState>, RtError> {
    match payload::<CondHandle>(v) {
        Some(h) => Ok(h.0.clone()),
        None => Err(RtError::msg(format!("{name} expects a condition variable"))),
    }
}

impl LockState {
    /// Block until the mutex is free, then take it.
    fn acquire(&self, me: ThreadId) {
        let mut owner = guard(&self.owner);
        while owner.is_some() {
            owner = self.released.wait(owner).unwrap_or_else(|e| e.into_inner());
        }
        *owner = Some(me);
    }

    fn release(&self) {
        *guard(&self.owner) = None;
        self.released.notify_one();
    }

    fn held_by(&self, me: ThreadId) -> bool {
        *guard(&self.owner) == Some(me)
    }
}

fn thread_current(_rt: &mut Rt, _a: &[Value]) -> RtResult {
    Ok(Value::int(THREAD_ID.with(|t| t.get())))
}

fn thread_yield(_rt: &mut Rt, _a: &[Value]) -> RtResult {
    thread::yield_now();
    Ok(Value::NULL)
}

fn thread_sleep(rt: &mut Rt, a: &[Value]) -> RtResult {
    if a[0].as_int() > 0 {
        rt.flush()?;
    }
    super::system::sleep_ms(a[0].as_int());
    Ok(Value::NULL)
}

fn mutex_new(rt: &mut Rt, _a: &[Value]) -> RtResult {
    Ok(rt.heap.alloc_opaque(Arc::new(MutexHandle(Arc::default()))))
}

unsafe fn mutex_lock(rt: &mut Rt, a: &[Value]) -> RtResult {
    let st = mutex_state(a[0], "mutex_lock")?;
    let me = thread::current().id();
    if st.held_by(me) {
        return Err(RtError::msg(
            "mutex_lock: deadlock: this thread already holds the mutex",
        ));
    }
    if !try_take(&st, me) {
        // About to block: make earlier output visible.
        rt.flush()?;
        st.acquire(me);
    }
    Ok(Value::NULL)
}

fn try_take(st: &LockState, me: ThreadId) -> bool {
    let mut owner = guard(&st.owner);
    if owner.is_some() {
        return false;
    }
    *owner = Some(me);
    true
}

unsafe fn mutex_unlock(rt: &mut Rt, a: &[Value]) -> RtResult {
    let st = mutex_state(a[0], "mutex_unlock")?;
    if !st.held_by(thread::current().id()) {
        return Err(RtError::msg(
            "mutex_unlock: the mutex is not locked by this thread",
        ));
    }
    // Another thread may go on now: output before the unlock comes first.
    rt.flush()?;
    st.release();
    Ok(Value::NULL)
}

unsafe fn mutex_trylock(_rt: &mut Rt, a: &[Value]) -> RtResult {
    let st = mutex_state(a[0], "mutex_trylock")?;
    Ok(Value::bool(try_take(&st, thread::current().id())))
}

fn cond_new(rt: &mut Rt, _a: &[Value]) -> RtResult {
    Ok(rt.heap.alloc_opaque(Arc::new(CondHandle(Arc::default()))))
}

unsafe fn cond_wait(rt: &mut Rt, a: &[Value]) -> RtResult {
    let cs = cond_state(a[0], "cond_wait")?;
    let ms = mutex_state(a[1], "cond_wait")?;
    let me = thread::current().id();
    if !ms.held_by(me) {
        return Err(RtError::msg("cond_wait: the mutex is not locked by this thread"));
    }
    // Waiting may take forever (always, in a single-threaded program).
    rt.flush()?;
    {
        // Holding `seq` while releasing the mutex means no signal can slip in
        // between the release and the wait.
        let mut seq = guard(&cs.seq);
        let start = *seq;
        ms.release();
        while *seq == start {
            seq = cs.changed.wait(seq).unwrap_or_else(|e| e.into_inner());
        }
    }
    ms.acquire(me);
    Ok(Value::NULL)
}

unsafe fn cond_signal(rt: &mut Rt, a: &[Value]) -> RtResult {
    let cs = cond_state(a[0], "cond_signal")?;
    rt.flush()?;
    let mut seq = guard(&cs.seq);
    *seq = seq.wrapping_add(1);
    cs.changed.notify_one();
    Ok(Value::NULL)
}

unsafe fn cond_broadcast(rt: &mut Rt, a: &[Value]) -> RtResult {
    let cs = cond_state(a[0], "cond_broadcast")?;
    rt.flush()?;
    let mut seq = guard(&cs.seq);
    *seq = seq.wrapping_add(1);
    cs.changed.notify_all();
    Ok(Value::NULL)
}

/// The table entry of a builtin the VM implements ([`HOSTED`]): the VM never
/// calls it, and a runtime without a VM (unit tests) gets an error.
fn hosted(_rt: &mut Rt, _a: &[Value]) -> RtResult {
    Err(RtError::msg(
        "internal error: this builtin is implemented by the VM",
    ))
}

// ----- threads -----

/// How a language thread ended.
pub struct ThreadEnd {
    /// Its function's result (or the status it passed to `exit`), copied; or the
    /// exception that escaped it.
    pub result: Result<Parcel, ThreadFailure>,
    /// The thread's stdout, when the program that started it captures output
    /// (tests); empty otherwise (the thread wrote it out itself).
    pub output: Vec<u8>,
}

/// An exception that escaped a thread, as `thread_join` raises it again: the
/// message and where it came from (function ids and pcs of the program, which every
/// thread shares).
#[derive(Clone, Debug)]
pub struct ThreadFailure {
    pub message: String,
    /// A `throw` (true) or a runtime error.
    pub thrown: bool,
    /// (function id, pc) of the raising instruction.
    pub origin: (u32, u32),
    /// (function id, pc) of the frames it unwound through in the thread, innermost
    /// first.
    pub trace: Vec<(u32, u32)>,
    /// Frames unwound through (may exceed `trace.len()`).
    pub depth: usize,
}

/// What a thread and the holders of its handle share.
pub struct ThreadState {
    /// The id `thread_current()` reports in the thread (1, 2, ... in spawn order).
    pub id: i64,
    end: Mutex<Option<ThreadEnd>>,
    ended: Condvar,
    /// Joined or detached: a second join or detach is an error.
    claimed: AtomicBool,
    /// Detached: nobody will join it (the thread reports its own failure).
    detached: AtomicBool,
}

/// Payload of a thread handle (`thread_spawn`'s result).
pub struct ThreadHandle(pub Arc<ThreadState>);

impl ThreadState {
    pub fn new(id: i64) -> Arc<ThreadState> {
        Arc::new(ThreadState {
            id,
            end: Mutex::new(None),
            ended: Condvar::new(),
            claimed: AtomicBool::new(false),
            detached: AtomicBool::new(false),
        })
    }

    /// Record how the thread ended and wake its joiner. Returns the outcome back
    /// when the thread was detached (nobody will take it).
    pub fn finish(&self, end: ThreadEnd) -> Option<ThreadEnd> {
        let mut slot = guard(&self.end);
        if self.detached.load(Ordering::Acquire) {
            return Some(end);
        }
        *slot = Some(end);
        self.ended.notify_all();
        None
    }

    /// Take the right to join (false if it was joined or detached before).
    pub fn claim(&self) -> bool {
        !self.claimed.swap(true, Ordering::AcqRel)
    }

    /// Whether the thread has ended.
    pub fn has_ended(&self) -> bool {
        guard(&self.end).is_some()
    }

    /// Wait for the thread to end and take its outcome (once: after a [`claim`]).
    ///
    /// [`claim`]: ThreadState::claim
    pub fn wait(&self) -> ThreadEnd {
        let mut slot = guard(&self.end);
        loop {
            if let Some(end) = slot.take() {
                return end;
            }
            slot = self.ended.wait(slot).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Whether the thread was detached.
    pub fn is_detached(&self) -> bool {
        self.detached.load(Ordering::Acquire)
    }
}

/// The thread state behind handle `v`, or `None` if `v` is not a thread handle.
///
/// # Safety
/// `v` must be null or a live object.
pub unsafe fn thread_state(v: Value) -> Option<Arc<ThreadState>> {
    payload::<ThreadHandle>(v).map(|h| h.0.clone())
}

unsafe fn thread_detach(_rt: &mut Rt, a: &[Value]) -> RtResult {
    let Some(st) = thread_state(a[0]) else {
        return Err(RtError::msg("thread_detach expects a thread"));
    };
    if !st.claim() {
        return Ok(Value::bool(false));
    }
    // Under the outcome's lock, so that the thread either sees the flag when it
    // ends or has ended already (then its outcome is dropped here).
    let mut slot = guard(&st.end);
    st.detached.store(true, Ordering::Release);
    if let Some(ThreadEnd { result: Err(f), .. }) = slot.take() {
        drop(slot);
        report_detached_failure(st.id, &f);
    }
    Ok(Value::bool(true))
}

/// The uncaught exception of a detached thread that ended before it was detached:
/// its one-line report (the thread itself reports the ones after).
fn report_detached_failure(id: i64, f: &ThreadFailure) {
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr().lock(),
        "thread {id}: {}: {}",
        if f.thrown {
            "unhandled exception"
        } else {
            "runtime error"
        },
        f.message
    );
}

// ----- channels -----

/// A channel: a queue of parcels with an optional bound, and whether it is closed.
pub struct ChanState {
    queue: Mutex<ChanQueue>,
    /// Signalled when a value arrives or the channel closes.
    readable: Condvar,
    /// Signalled when a value leaves or the channel closes.
    writable: Condvar,
    /// Most values waiting at once (`usize::MAX`: no limit).
    capacity: usize,
}

struct ChanQueue {
    items: VecDeque<Parcel>,
    closed: bool,
}

/// Payload of a channel handle.
pub struct ChanHandle(pub Arc<ChanState>);

unsafe fn chan_state(v: Value, name: &str) -> Result<Arc<ChanState>, RtError> {
    match payload::<ChanHandle>(v) {
        Some(h) => Ok(h.0.clone()),
        None => Err(RtError::msg(format!("{name}: the channel is null"))),
    }
}

fn chan_new(rt: &mut Rt, a: &[Value]) -> RtResult {
    let capacity = match a[0].as_int() {
        0 => usize::MAX,
        n if n > 0 => n as usize,
        n => return Err(RtError::msg(format!("chan_new: negative capacity {n}"))),
    };
    let st = ChanState {
        queue: Mutex::new(ChanQueue {
            items: VecDeque::new(),
            closed: false,
        }),
        readable: Condvar::new(),
        writable: Condvar::new(),
        capacity,
    };
    Ok(rt.heap.alloc_opaque(Arc::new(ChanHandle(Arc::new(st)))))
}

unsafe fn chan_send(rt: &mut Rt, a: &[Value]) -> RtResult {
    let ch = chan_state(a[0], "chan_send")?;
    let kind = ValKind::from_u8(a[2].as_int() as u8);
    // SAFETY: the value has the channel's element type (checker), whose kind the
    // compiler passed; a reference is null or a live object of this heap.
    let parcel =
        Parcel::pack(&[(a[1], kind)]).map_err(|e| RtError::msg(format!("chan_send: {}", e.message())))?;
    rt.flush()?;
    let mut q = guard(&ch.queue);
    while !q.closed && q.items.len() >= ch.capacity {
        q = ch.writable.wait(q).unwrap_or_else(|e| e.into_inner());
    }
    if q.closed {
        return Err(RtError::msg("chan_send: the channel is closed"));
    }
    q.items.push_back(parcel);
    ch.readable.notify_one();
    Ok(Value::NULL)
}

/// Take the next parcel of `ch`: waiting for one when `wait`, else `None` when
/// there is none. `Err` when the channel is closed and empty.
fn chan_take(ch: &ChanState, wait: bool) -> Result<Option<Parcel>, RtError> {
    let mut q = guard(&ch.queue);
    loop {
        if let Some(p) = q.items.pop_front() {
            ch.writable.notify_one();
            return Ok(Some(p));
        }
        if q.closed {
            return Err(RtError::msg("chan_recv: the channel is closed"));
        }
        if !wait {
            return Ok(None);
        }
        q = ch.readable.wait(q).unwrap_or_else(|e| e.into_inner());
    }
}

/// The value of a received parcel, moved into this thread's heap.
fn unpack_one(rt: &mut Rt, p: Parcel) -> RtResult {
    match p.unpack(&mut rt.heap).first() {
        Some(&v) => Ok(v),
        None => Err(RtError::msg("internal error: an empty channel message")),
    }
}

unsafe fn chan_recv(rt: &mut Rt, a: &[Value]) -> RtResult {
    let ch = chan_state(a[0], "chan_recv")?;
    // About to wait, maybe for good: earlier output first.
    rt.flush()?;
    match chan_take(&ch, true)? {
        Some(p) => unpack_one(rt, p),
        None => Err(RtError::msg("internal error: chan_recv woke without a value")),
    }
}

unsafe fn chan_try_recv(rt: &mut Rt, a: &[Value]) -> RtResult {
    let ch = chan_state(a[0], "chan_try_recv")?;
    match chan_take(&ch, false) {
        Ok(Some(p)) => unpack_one(rt, p),
        Ok(None) => Ok(a[1]),
        Err(_) => Err(RtError::msg("chan_try_recv: the channel is closed")),
    }
}

unsafe fn chan_close(rt: &mut Rt, a: &[Value]) -> RtResult {
    let ch = chan_state(a[0], "chan_close")?;
    rt.flush()?;
    let mut q = guard(&ch.queue);
    q.closed = true;
    ch.readable.notify_all();
    ch.writable.notify_all();
    Ok(Value::NULL)
}

unsafe fn chan_len(_rt: &mut Rt, a: &[Value]) -> RtResult {
    let ch = chan_state(a[0], "chan_len")?;
    let n = guard(&ch.queue).items.len();
    Ok(Value::int(n as i64))
}

#[cfg(test)]
mod tests {
    use super::{cond_state, mutex_state, set_current_thread_id};
    use crate::builtins::string::testutil::*;
    use crate::value::Value;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    // SAFETY (every `unsafe` block in these tests that has no note of its own): the
    // values passed are live objects this test allocated, of the kinds read, and a
    // builtin gets arguments of its signature.

    #[test]
    fn current_yield_sleep() {
        let mut rt = rt();
        assert_eq!(ok(&mut rt, "thread_current", &[]).as_int(), 0);
        ok(&mut rt, "thread_yield", &[]);
        ok(&mut rt, "thread_sleep", &[i(1)]);
        ok(&mut rt, "thread_sleep", &[i(-1)]);
        set_current_thread_id(7);
        assert_eq!(ok(&mut rt, "thread_current", &[]).as_int(), 7);
        set_current_thread_id(0);
    }

    #[test]
    fn mutex_single_thread() {
        let mut rt = rt();
        let m = ok(&mut rt, "mutex_new", &[]);
        assert!(ok(&mut rt, "mutex_trylock", &[m]).as_bool());
        assert!(!ok(&mut rt, "mutex_trylock", &[m]).as_bool());
        ok(&mut rt, "mutex_unlock", &[m]);
        ok(&mut rt, "mutex_lock", &[m]);
        assert!(!ok(&mut rt, "mutex_trylock", &[m]).as_bool());
        assert_eq!(
            err(&mut rt, "mutex_lock", &[m]),
            "mutex_lock: deadlock: this thread already holds the mutex"
        );
        ok(&mut rt, "mutex_unlock", &[m]);
        assert_eq!(
            err(&mut rt, "mutex_unlock", &[m]),
            "mutex_unlock: the mutex is not locked by this thread"
        );
        // Handles of the wrong kind are errors, not crashes.
        let c = ok(&mut rt, "cond_new", &[]);
        let text_value = s(&mut rt, "x");
        for bad in [Value::NULL, c, text_value] {
            assert_eq!(err(&mut rt, "mutex_lock", &[bad]), "mutex_lock expects a mutex");
            assert_eq!(
                err(&mut rt, "mutex_trylock", &[bad]),
                "mutex_trylock expects a mutex"
            );
        }
        assert_eq!(
            err(&mut rt, "cond_signal", &[m]),
            "cond_signal expects a condition variable"
        );
        assert_eq!(err(&mut rt, "cond_wait", &[c, c]), "cond_wait expects a mutex");
        // Waiting without holding the mutex is an error rather than a hang.
        assert_eq!(
            err(&mut rt, "cond_wait", &[c, m]),
            "cond_wait: the mutex is not locked by this thread"
        );
        // Signalling with no waiter is harmless.
        ok(&mut rt, "cond_signal", &[c]);
        ok(&mut rt, "cond_broadcast", &[c]);
    }

    #[test]
    fn mutex_excludes_other_threads() {
        let mut rt = rt();
        let m = ok(&mut rt, "mutex_new", &[]);
        ok(&mut rt, "mutex_lock", &[m]);
        let st = unsafe { mutex_state(m, "test") }.expect("mutex");
        let got = Arc::new(AtomicBool::new(false));
        let (st2, got2) = (st.clone(), got.clone());
        let t = std::thread::spawn(move || {
            let me = std::thread::current().id();
            st2.acquire(me);
            got2.store(true, Ordering::SeqCst);
            st2.release();
        });
        std::thread::sleep(Duration::from_millis(30));
        assert!(!got.load(Ordering::SeqCst), "other thread entered a locked mutex");
        ok(&mut rt, "mutex_unlock", &[m]);
        t.join().expect("join");
        assert!(got.load(Ordering::SeqCst));
        assert!(ok(&mut rt, "mutex_trylock", &[m]).as_bool());
    }

    #[test]
    fn cond_wait_is_woken_by_signal() {
        let mut rt = rt();
        let m = ok(&mut rt, "mutex_new", &[]);
        let c = ok(&mut rt, "cond_new", &[]);
        let ms = unsafe { mutex_state(m, "test") }.expect("mutex");
        let cs = unsafe { cond_state(c, "test") }.expect("cond");
        ok(&mut rt, "mutex_lock", &[m]);
        // Another thread takes the mutex (only possible once cond_wait released it),
        // then signals.
        let t = std::thread::spawn(move || {
            let me = std::thread::current().id();
            ms.acquire(me);
            {
                let mut seq = super::guard(&cs.seq);
                *seq += 1;
                cs.changed.notify_all();
            }
            ms.release();
        });
        ok(&mut rt, "cond_wait", &[c, m]);
        // cond_wait returns holding the mutex again.
        assert!(!ok(&mut rt, "mutex_trylock", &[m]).as_bool());
        ok(&mut rt, "mutex_unlock", &[m]);
        t.join().expect("join");
    }
}
