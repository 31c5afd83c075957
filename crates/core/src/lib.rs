//! ssobar-core: every rule of ssobar's domain.
