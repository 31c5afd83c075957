//! Shared harness for ssobar's end-to-end tests.
