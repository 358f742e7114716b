"""Compute the shipped convergence power spectrum table with CAMB (a tool dependency of this script only).

C_ℓ^κκ for a single source plane at z_s in flat ΛCDM, nonlinear matter power from CAMB's halofit
(Takahashi et al. 2012), Limber approximation:

    C_ℓ = (9/4) Ωm² (H0/c)⁴ ∫_0^χs dχ [(χs − χ)/(χs a(χ))]² P_nl(k = (ℓ + ½)/χ, z(χ))

Run:  pip install camb && python scripts/make_cl_table.py   (writes emubench/data/cl_kappa_lcdm_zs1.txt)
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

# The CosmoGAN / thesis cosmology (Mustafa et al. 2019; thesis section 3.2).
COSMO = dict(h=0.72, omega_m=0.26, omega_b=0.046, n_s=0.96, sigma8=0.798, w=-1.0)


def cl_kappa(ell: np.ndarray, z_s: float = 1.0, kmax: float = 2000.0, nchi: int = 2000) -> np.ndarray:
    import camb

    h = COSMO["h"]
    pars = camb.CAMBparams()
    pars.set_cosmology(
        H0=100 * h,
        ombh2=COSMO["omega_b"] * h**2,
        omch2=(COSMO["omega_m"] - COSMO["omega_b"]) * h**2,
        mnu=0.0,
        num_massive_neutrinos=0,
        omk=0.0,
    )
    pars.set_dark_energy(w=COSMO["w"])
    pars.InitPower.set_params(As=2.1e-9, ns=COSMO["n_s"])
    # Normalise to σ8: compute once, rescale A_s (P ∝ A_s), recompute.
    pars.set_matter_power(redshifts=[0.0], kmax=2.0)
    sigma8 = camb.get_results(pars).get_sigma8_0()
    pars.InitPower.set_params(As=2.1e-9 * (COSMO["sigma8"] / sigma8) ** 2, ns=COSMO["n_s"])
    pars.NonLinear = camb.model.NonLinear_both
    pars.NonLinearModel.set_params(halofit_version="takahashi")
    results = camb.get_background(pars)
    chi_s = results.comoving_radial_distance(z_s)
    pk = camb.get_matter_power_interpolator(
        pars, nonlinear=True, hubble_units=False, k_hunit=False, kmax=kmax, zmax=z_s, extrap_kmax=1e6
    )
    check = camb.get_results(pars).get_sigma8_0()
    chi = np.linspace(chi_s / nchi, chi_s * (1 - 0.5 / nchi), nchi)
    z = results.redshift_at_comoving_radial_distance(chi)
    a = 1.0 / (1.0 + z)
    h0_over_c = pars.H0 / 299792.458  # 1/Mpc
    kernel = 1.5 * COSMO["omega_m"] * h0_over_c**2 * (chi_s - chi) / chi_s * chi / a  # lensing efficiency W(χ)
    out = np.empty_like(ell, dtype=float)
    dchi = chi[1] - chi[0]
    for i, ell_i in enumerate(ell):
        k = (ell_i + 0.5) / chi
        p = pk.P(z, k, grid=False)
        out[i] = np.sum(kernel**2 / chi**2 * p) * dchi
    return out, check


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--z-source", type=float, default=1.0)
    ap.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "emubench/data/cl_kappa_lcdm_zs1.txt"))
    args = ap.parse_args()
    import camb

    ell = np.logspace(1, 5, 401)
    cl, s8 = cl_kappa(ell, args.z_source)
    header = "\n".join(
        [
            "Convergence power spectrum C_ell^kappakappa for the emubench embedded default dataset.",
            f"Flat LCDM: h={COSMO['h']} Omega_m={COSMO['omega_m']} Omega_b={COSMO['omega_b']} n_s={COSMO['n_s']} "
            f"sigma8={COSMO['sigma8']} (achieved {s8:.4f}) w={COSMO['w']} massless neutrinos.",
            f"Single source plane z_s={args.z_source}; nonlinear P(k) from CAMB {camb.__version__} halofit "
            "(Takahashi et al. 2012); Limber approximation k=(ell+1/2)/chi.",
            "Made by scripts/make_cl_table.py. Columns: ell  C_ell [rad^2]",
        ]
    )
    np.savetxt(args.out, np.column_stack([ell, cl]), header=header, fmt="%.8e")
    print(f"wrote {args.out}: C_ell(1000)={np.interp(1000, ell, cl):.3e}, sigma8={s8:.4f}")


if __name__ == "__main__":
    main()
