//! `try` / `catch` / `finally` with static exception tables.
//!
//! # Scheme
//! ```text
//! S:  <try body>                      catch handler:     [S, E)  minus holes -> C, reg = catch variable
//! E:  goto F                          finally handler:   [S, CE) minus holes -> X, reg = x (hidden)
//! C:  <catch body>                    (both only when the clause exists; the
//! CE:                                  catch entry precedes the finally entry)
//! F:  <finally copy>                  normal end of the try body or of the catch body
//!     goto END
//! X:  <finally copy>                  any exception from the try body (uncaught) or
//!     Rethrow x                       from the catch body: run finally, re-raise
//! END:
//! ```
//! Without `catch`, `E` = `CE` = `F` (no `goto`); without `finally`, `F` = `END` and
//! there is no `X` block. The exception table lists handlers innermost first: a
//! nested `try` registers its entries when it is finished, before the enclosing
//! one, and the catch entry of a `try` precedes its finally entry.
//!
//! `return`, `break` and `continue` that leave try/catch blocks emit, before
//! jumping, a copy of the `finally` code of every `try` being left (innermost
//! first; `return e` evaluates `e` first). Each copy is compiled as if it stood
//! outside its own `try` (control stack truncated), and its code range is
//! recorded as a *hole* in the handlers of every `try` being left at that point:
//! the copy is physically inside their protected ranges, but an exception raised
//! by it must reach only the handlers of the enclosing statements.

use super::func::{Ctl, FnCompiler};
use crate::ast::{Block, CatchClause, Span};
use crate::bytecode::Instr;

impl<'a, 'c> FnCompiler<'a, 'c> {
    pub fn try_stmt(
        &mut self,
        body: &'a Block,
        catch: Option<&'a CatchClause>,
        finally: Option<&'a Block>,
        sp: Span,
    ) {
        let start = self.pc();
        self.ctl.push(Ctl::Try {
            holes: Vec::new(),
            finally,
        });
        self.block(body);
        let try_end = self.pc();
        let after = self.new_label();
        let mut catch_entry = None;
        if let Some(c) = catch {
            if !super::stmt::block_ends_in_jump(body) {
                self.jmp(after, sp);
            }
            let target = self.pc();
            self.push_scope();
            let reg = c.name.as_ref().map(|n| self.declare_local(c.local, n.span));
            self.block(&c.body);
            self.pop_scope();
            catch_entry = Some((target, reg));
        }
        let catch_end = self.pc();
        let holes = match self.ctl.pop() {
            Some(Ctl::Try { holes, .. }) => holes,
            _ => {
                self.internal(sp, "control stack out of balance");
                Vec::new()
            }
        };
        self.bind(after);
        if let Some((target, reg)) = catch_entry {
            self.add_handler(start, try_end, &holes, target, reg);
        }
        if let Some(f) = finally {
            let end = self.new_label();
            // Normal completion of the try body or of the catch body.
            self.block(f);
            if !super::stmt::block_ends_in_jump(f) {
                self.jmp(end, sp);
            }
            // Exception path: run finally, re-raise.
            let target = self.pc();
            let exc = self.temp_kind(true);
            self.add_handler(start, catch_end, &holes, target, Some(exc.reg));
            self.block(f);
            if !super::stmt::block_ends_in_jump(f) {
                self.emit(Instr::Rethrow { src: exc.reg }, sp);
            }
            self.release(exc);
            self.bind(end);
        }
    }

    /// Emit the `finally` code of every `try` on the control stack at index
    /// `>= upto`, innermost first, for a jump that leaves them. Each copy is a hole
    /// in the handler ranges of the `try` statements being left.
    pub fn exit_copies(&mut self, upto: usize, _sp: Span) {
        let mut j = self.ctl.len();
        while j > upto {
            j -= 1;
            let fin = match &self.ctl[j] {
                Ctl::Try { finally: Some(f), .. } => Some(*f),
                _ => None,
            };
            let Some(f) = fin else { continue };
            let start = self.pc();
            let tail = self.ctl.split_off(j);
            self.block(f);
            self.ctl.extend(tail);
            let end = self.pc();
            if end > start {
                for c in &mut self.ctl[j..] {
                    if let Ctl::Try { holes, .. } = c {
                        holes.push((start, end));
                    }
                }
            }
        }
    }
}
