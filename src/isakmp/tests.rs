//! Tests on the real strongSwan captures and mutation tests.
