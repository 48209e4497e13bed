// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Burnable} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Burnable.sol";
import {ERC20Capped} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Capped.sol";
import {ERC20Pausable} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Pausable.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";
import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";

/// @title AgentCoin (AGC)
/// @notice The Harmony network's token: 18 decimals, supply capped at 10 billion, 1 billion minted at deployment.
/// Minting and pausing are role-gated; holders can burn their own tokens and approve by EIP-2612 permit.
contract AGC is ERC20, ERC20Burnable, ERC20Capped, ERC20Pausable, ERC20Permit, AccessControl {
    bytes32 public constant MINTER_ROLE = keccak256("MINTER_ROLE");
    bytes32 public constant PAUSER_ROLE = keccak256("PAUSER_ROLE");

    uint256 public constant MAX_SUPPLY = 10_000_000_000 ether;
    uint256 public constant INITIAL_SUPPLY = 1_000_000_000 ether;

    /// @param admin receives DEFAULT_ADMIN_ROLE, MINTER_ROLE and PAUSER_ROLE
    /// @param initialHolder receives the initial supply
    constructor(address admin, address initialHolder)
        ERC20("AgentCoin", "AGC")
        ERC20Capped(MAX_SUPPLY)
        ERC20Permit("AgentCoin")
    {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(MINTER_ROLE, admin);
        _grantRole(PAUSER_ROLE, admin);
        _mint(initialHolder, INITIAL_SUPPLY);
    }

    /// @notice Mints new tokens, never past the cap.
    function mint(address to, uint256 amount) external onlyRole(MINTER_ROLE) {
        _mint(to, amount);
    }

    /// @notice Stops every transfer, mint and burn until unpaused.
    function pause() external onlyRole(PAUSER_ROLE) {
        _pause();
    }

    function unpause() external onlyRole(PAUSER_ROLE) {
        _unpause();
    }

    function _update(address from, address to, uint256 value)
        internal
        override(ERC20, ERC20Capped, ERC20Pausable)
    {
        super._update(from, to, value);
    }
}
