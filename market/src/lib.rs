//! cairn-market: the rules of cairn's resource market, as pure functions and
//! state machines. No I/O and no clock: every time is an argument.
