"""Compute the shipped convergence power spectrum tables with CAMB (a dependency of this script only).

C_ℓ^κκ for a single source plane at z_s in flat ΛCDM, nonlinear matter power from CAMB's halofit
(Takahashi et al. 2012), Limber approximation:

    C_ℓ = (9/4) Ωm² (H0/c)⁴ ∫_0^χs dχ [(χs − χ)/(χs a(χ))]² P_nl(k = (ℓ + ½)/χ, z(χ))

h, Ωb, n_s and w are the CosmoGAN values; Ωm (at fixed Ωb, flat: Ω_Λ = 1 − Ωm) and σ8 vary.

    pip install 'emubench[camb]'
    python scripts/make_cl_table.py                  # the default cosmology: emubench/data/cl_kappa_lcdm_zs1.txt
    python scripts/make_cl_table.py --grid           # the (Ωm, σ8) grid: emubench/data/cl_kappa_grid_zs1.txt
    python scripts/make_cl_table.py --check          # CAMB at off-grid cosmologies: tests/data/cl_kappa_check_zs1.txt
    python scripts/make_cl_table.py --grid --omega-m 0.1 0.2 0.3 --sigma8 0.6 0.8 1.0 --out my_grid.txt

The transfer functions depend on Ωm only: they are computed once per Ωm (the slow part, ~40 s at kmax = 2000/Mpc)
and the nonlinear power for every σ8 is then recomputed from them with A_s rescaled (P_lin ∝ A_s).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
# The CosmoGAN / thesis cosmology (Mustafa et al. 2019; thesis section 3.2).
COSMO = dict(h=0.72, omega_m=0.26, omega_b=0.046, n_s=0.96, sigma8=0.798, w=-1.0)
# The grid the shipped tables span: wider than the design of lognormal-cosmo (Ωm ∈ [0.20, 0.34], σ8 ∈ [0.70,
# 0.90]) by one step on each side, so that cubic interpolation never runs at a table's edge inside the design.
GRID_OMEGA_M = (0.16, 0.20, 0.24, 0.28, 0.32, 0.36, 0.40)
GRID_SIGMA8 = (0.62, 0.68, 0.74, 0.80, 0.86, 0.92, 0.98)
# Off-grid cosmologies CAMB is run at for the interpolation test (the first is the done-when cosmology).
CHECK = ((0.30, 0.75), (0.225, 0.83), (0.335, 0.71), (0.265, 0.885))
ELL = np.logspace(1, 5, 201)  # 50 per decade: log-log interpolation in ℓ is then exact to < 0.1%
ELL_DEFAULT = np.logspace(1, 5, 401)  # the default table's, as shipped


def cl_kappa(
    ell: np.ndarray, omega_m: float, sigma8s: list[float], z_s: float = 1.0, kmax: float = 2000.0, nchi: int = 2000
) -> list[tuple[np.ndarray, float]]:
    """[(C_ℓ [rad²] at ``ell``, achieved σ8) for each σ8 in ``sigma8s``] at matter density ``omega_m``."""
    import camb

    h = COSMO["h"]
    pars = camb.CAMBparams()
    pars.set_cosmology(
        H0=100 * h,
        ombh2=COSMO["omega_b"] * h**2,
        omch2=(omega_m - COSMO["omega_b"]) * h**2,
        mnu=0.0,
        num_massive_neutrinos=0,
        omk=0.0,
    )
    pars.set_dark_energy(w=COSMO["w"])
    pars.InitPower.set_params(As=2.1e-9, ns=COSMO["n_s"])
    pars.NonLinear = camb.model.NonLinear_pk
    pars.NonLinearModel.set_params(halofit_version="takahashi")
    pars.WantCls = False
    pars.set_matter_power(redshifts=list(np.linspace(0.0, z_s, 40)[::-1]), kmax=kmax, silent=True)
    results = camb.get_transfer_functions(pars)
    results.power_spectra_from_transfer()
    sigma8_as = results.get_sigma8_0()  # σ8 at A_s = 2.1e-9; σ8 ∝ √A_s
    chi_s = results.comoving_radial_distance(z_s)
    chi = np.linspace(chi_s / nchi, chi_s * (1 - 0.5 / nchi), nchi)
    z = results.redshift_at_comoving_radial_distance(chi)
    a = 1.0 / (1.0 + z)
    h0_over_c = pars.H0 / 299792.458  # 1/Mpc
    kernel = 1.5 * omega_m * h0_over_c**2 * (chi_s - chi) / chi_s * chi / a  # lensing efficiency W(χ)
    dchi = chi[1] - chi[0]
    out = []
    for s8 in sigma8s:
        results.Params.InitPower.set_params(As=2.1e-9 * (s8 / sigma8_as) ** 2, ns=COSMO["n_s"])
        results.power_spectra_from_transfer()
        pk = results.get_matter_power_interpolator(nonlinear=True, hubble_units=False, k_hunit=False, extrap_kmax=1e6)
        cl = np.array([np.sum(kernel**2 / chi**2 * pk.P(z, (e + 0.5) / chi, grid=False)) * dchi for e in ell])
        out.append((cl, results.get_sigma8_0()))
    return out


def header(what: str, z_s: float) -> list[str]:
    import camb

    return [
        what,
        f"Flat LCDM: h={COSMO['h']} Omega_b={COSMO['omega_b']} n_s={COSMO['n_s']} w={COSMO['w']} massless neutrinos.",
        f"Single source plane z_s={z_s}; nonlinear P(k) from CAMB {camb.__version__} halofit "
        "(Takahashi et al. 2012); Limber approximation k=(ell+1/2)/chi.",
        "Made by scripts/make_cl_table.py.",
    ]


def write_table(
    out: Path, cosmologies: list[tuple[float, float]], z_s: float, what: str, ell: np.ndarray = ELL
) -> None:
    """One column of C_ℓ per cosmology, after a column of ℓ; the header names each column's (Ωm, σ8)."""
    by_om: dict[float, list[float]] = {}
    for om, s8 in cosmologies:
        by_om.setdefault(om, []).append(s8)
    cls = {}
    for om, s8s in by_om.items():
        for s8, (cl, got) in zip(s8s, cl_kappa(ell, om, s8s, z_s)):
            assert abs(got - s8) < 1e-4, (om, s8, got)
            cls[(om, s8)] = cl
        print(f"  Omega_m={om}: sigma8 {', '.join(map(str, s8s))}", flush=True)
    cols = " ".join(f"{om:g},{s8:g}" for om, s8 in cosmologies)
    text = header(what, z_s) + [f"columns: ell then C_ell [rad^2] at (Omega_m,sigma8) = {cols}"]
    np.savetxt(out, np.column_stack([ell, *(cls[c] for c in cosmologies)]), header="\n".join(text), fmt="%.7e")
    print(f"wrote {out}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--z-source", type=float, default=1.0)
    ap.add_argument("--grid", action="store_true", help="the (Ωm, σ8) grid of tables")
    ap.add_argument("--check", action="store_true", help="CAMB at the off-grid check cosmologies (test data)")
    ap.add_argument("--omega-m", type=float, nargs="+", default=GRID_OMEGA_M, help="grid values of Ωm")
    ap.add_argument("--sigma8", type=float, nargs="+", default=GRID_SIGMA8, help="grid values of σ8")
    ap.add_argument("--out", help="output file (default: the shipped one)")
    args = ap.parse_args()
    if args.grid:
        grid = [(om, s8) for om in args.omega_m for s8 in args.sigma8]
        out = Path(args.out or ROOT / "emubench/data/cl_kappa_grid_zs1.txt")
        what = "Convergence power spectra C_ell^kappakappa on an (Omega_m, sigma8) grid."
        write_table(out, grid, args.z_source, what)
    elif args.check:
        out = Path(args.out or ROOT / "tests/data/cl_kappa_check_zs1.txt")
        write_table(out, list(CHECK), args.z_source, "CAMB C_ell^kappakappa at off-grid cosmologies (test data).")
    else:
        out = Path(args.out or ROOT / "emubench/data/cl_kappa_lcdm_zs1.txt")
        write_table(
            out,
            [(COSMO["omega_m"], COSMO["sigma8"])],
            args.z_source,
            "Convergence power spectrum C_ell^kappakappa for the emubench embedded default dataset.",
            ELL_DEFAULT,
        )


if __name__ == "__main__":
    main()
