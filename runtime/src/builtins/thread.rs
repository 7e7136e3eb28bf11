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
//! `thread_spawn`, `thread_join` and `thread_detach` belong to a later milestone
//! and are not registered here.

use super::{b, Builtin};
use crate::heap::{as_opaque, obj_kind, ObjKind};
use crate::rt::{Rt, RtError, RtResult};
use crate::value::Value;
use std::any::Any;
use std::cell::Cell;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::{self, ThreadId};

#[rustfmt::skip] // one builtin per line: name, signature, meaning, implementation, flags
pub const TABLE: &[Builtin] = &[
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
/// state inconsistent).
fn guard<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
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
    Ok(rt.heap.alloc_opaque(Box::new(MutexHandle(Arc::default()))))
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

unsafe fn mutex_unlock(_rt: &mut Rt, a: &[Value]) -> RtResult {
    let st = mutex_state(a[0], "mutex_unlock")?;
    if !st.held_by(thread::current().id()) {
        return Err(RtError::msg(
            "mutex_unlock: the mutex is not locked by this thread",
        ));
    }
    st.release();
    Ok(Value::NULL)
}

unsafe fn mutex_trylock(_rt: &mut Rt, a: &[Value]) -> RtResult {
    let st = mutex_state(a[0], "mutex_trylock")?;
    Ok(Value::bool(try_take(&st, thread::current().id())))
}

fn cond_new(rt: &mut Rt, _a: &[Value]) -> RtResult {
    Ok(rt.heap.alloc_opaque(Box::new(CondHandle(Arc::default()))))
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

unsafe fn cond_signal(_rt: &mut Rt, a: &[Value]) -> RtResult {
    let cs = cond_state(a[0], "cond_signal")?;
    let mut seq = guard(&cs.seq);
    *seq = seq.wrapping_add(1);
    cs.changed.notify_one();
    Ok(Value::NULL)
}

unsafe fn cond_broadcast(_rt: &mut Rt, a: &[Value]) -> RtResult {
    let cs = cond_state(a[0], "cond_broadcast")?;
    let mut seq = guard(&cs.seq);
    *seq = seq.wrapping_add(1);
    cs.changed.notify_all();
    Ok(Value::NULL)
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
