//! The comparison command (first version): pushes the same workload through one queue per exhaustion policy and
//! prints each queue's segment accounting. Later versions compare every reclamation strategy and backend.

fn main() {
    println!("segpool");
}
